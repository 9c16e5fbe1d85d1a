#!/usr/bin/env python3
"""Pairwise evaluation of a DPO LoRA adapter written by dpo_lora.py, on the held-out split.

For each eval pair (the same pair_id hash split as the C# TrainEvalSplit) it computes the DPO implicit reward
r = beta * (log p_policy(response | prompt) - log p_ref(response | prompt)), summed over response tokens, for
the chosen and the rejected response; policy = base + adapter, reference = the same base with the adapter
disabled. accuracy = mean(r_chosen > r_rejected), standard_error = sqrt(p (1 - p) / n).

Also reported, as sanity checks and baselines:
- reference: the untrained reference scored the same way (policy = reference, so every pair is a tie: strict
  accuracy 0, ties counted as half 0.5);
- base_loglik: the base model's own preference, mean(log p_ref(chosen) > log p_ref(rejected));
- shorter_response: mean(len(chosen) < len(rejected)) in characters, a length-only baseline.

The base is rebuilt exactly as trained: for a `config:` base, from base_model/config.json and the saved
state_dict in the training output (not from the seed alone), so the reference is the one DPO was trained
against. Prints and writes JSON.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dpo_lora  # noqa: E402  (the split, pair loading, tokenisation and log-prob code are shared)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="preference-pair Parquet: a folder, a file or a glob")
    ap.add_argument("--model_dir", required=True, help="the --output folder of dpo_lora.py")
    ap.add_argument("--base_model", default=None, help="as given to dpo_lora.py (default: the one recorded there)")
    ap.add_argument("--eval_fraction", type=float, default=None, help="default: the one used in training")
    ap.add_argument("--max_len", type=int, default=None, help="default: the one used in training")
    ap.add_argument("--batch_size", type=int, default=64, help="pairs per forward pass")
    ap.add_argument("--seed", type=int, default=None, help="default: the one used in training")
    ap.add_argument("--bf16", action="store_true", help="score under bf16 autocast (default fp32)")
    ap.add_argument("--output", default=None, help="JSON file to write (default <model_dir>/eval.json)")
    return ap.parse_args(argv)


def accuracy_block(wins, ties, n):
    p = wins / n if n else float("nan")
    half = (wins + 0.5 * ties) / n if n else float("nan")
    se = math.sqrt(p * (1 - p) / n) if n else float("nan")
    return {
        "accuracy": round(p, 6),
        "standard_error": round(se, 6),
        "ties": ties,
        "accuracy_ties_as_half": round(half, 6),
    }


def main(argv=None):
    args = parse_args(argv)
    with open(os.path.join(args.model_dir, "train_args.json")) as f:
        trained = json.load(f)
    targs, params = trained["args"], trained["params"]
    base_spec = args.base_model or targs["base_model"]
    eval_fraction = targs["eval_fraction"] if args.eval_fraction is None else args.eval_fraction
    max_len = args.max_len or targs["max_len"]
    seed = targs["seed"] if args.seed is None else args.seed
    beta = float(params["beta"])
    kind, base = dpo_lora.parse_base_model(base_spec)

    import torch
    from peft import PeftModel

    torch.manual_seed(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = args.bf16 and device.type == "cuda"
    print(f"device: {dpo_lora.device_name(torch)}; scoring in {'bf16 autocast' if use_bf16 else 'fp32'}")

    pairs = dpo_lora.load_pairs(args.data)
    _, eval_pairs = dpo_lora.split_pairs(pairs, eval_fraction)
    print(f"eval split (eval_fraction {eval_fraction}): {len(eval_pairs)} pairs")
    if not eval_pairs:
        raise SystemExit("no eval pairs")

    tok = dpo_lora.load_tokenizer(os.path.join(args.model_dir, "tokenizer"))
    if kind == "config":
        with open(os.path.join(args.model_dir, "base_model", "config.json")) as f:
            saved_config = json.load(f)
        expected = dpo_lora.llama_config_dict(base, tok, max_len)
        differing = sorted(k for k in expected if saved_config.get(k) != expected[k])
        if differing:
            print(f"warning: --base_model differs from the trained base in {differing}; using the trained base")
        model = dpo_lora.build_random_llama(torch, saved_config, seed)
        state = torch.load(os.path.join(args.model_dir, "base_model", "base_state.pt"), map_location="cpu")
        model.load_state_dict(state, strict=True)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(base)
    model = PeftModel.from_pretrained(model, os.path.join(args.model_dir, "adapter"))
    model.to(device)
    model.eval()

    encoded, truncated = dpo_lora.encode_pairs(tok, eval_pairs, max_len)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else (lambda: torch.autocast("cpu", enabled=False))
    started = time.perf_counter()
    pol_c, pol_r, ref_c, ref_r = [], [], [], []
    with torch.no_grad():
        for b in range(0, len(encoded), args.batch_size):
            batch = encoded[b : b + args.batch_size]
            ids, attention, response, _, _ = dpo_lora.collate(torch, batch, tok.pad_id, device)
            n = len(batch)
            with autocast():
                pol = dpo_lora.sequence_logps(torch, model, ids, attention, response).double().cpu()
                with model.disable_adapter():
                    ref = dpo_lora.sequence_logps(torch, model, ids, attention, response).double().cpu()
            pol_c += pol[:n].tolist()
            pol_r += pol[n:].tolist()
            ref_c += ref[:n].tolist()
            ref_r += ref[n:].tolist()
    seconds = time.perf_counter() - started

    n = len(encoded)
    r_c = [beta * (a - b) for a, b in zip(pol_c, ref_c)]
    r_r = [beta * (a - b) for a, b in zip(pol_r, ref_r)]
    wins = sum(c > r for c, r in zip(r_c, r_r))
    ties = sum(c == r for c, r in zip(r_c, r_r))
    # The untrained reference as its own policy: r = beta * (log p_ref - log p_ref), 0 for every response.
    ref_r_c = [beta * (a - a) for a in ref_c]
    ref_r_r = [beta * (a - a) for a in ref_r]
    ref_wins = sum(c > r for c, r in zip(ref_r_c, ref_r_r))
    ref_ties = sum(c == r for c, r in zip(ref_r_c, ref_r_r))
    base_wins = sum(c > r for c, r in zip(ref_c, ref_r))
    base_ties = sum(c == r for c, r in zip(ref_c, ref_r))
    shorter = [len(p["chosen_text"]) < len(p["rejected_text"]) for p in eval_pairs]
    same_len = [len(p["chosen_text"]) == len(p["rejected_text"]) for p in eval_pairs]

    result = {"eval_pairs": n}
    result.update(accuracy_block(wins, ties, n))
    result.update(
        {
            "mean_reward_margin": round(sum(c - r for c, r in zip(r_c, r_r)) / n, 6),
            "beta": beta,
            "reference": accuracy_block(ref_wins, ref_ties, n),
            "baselines": {
                "base_loglik": accuracy_block(base_wins, base_ties, n),
                "shorter_response": accuracy_block(sum(shorter), sum(same_len), n),
            },
            "truncated_sequences": truncated,
            "eval_fraction": eval_fraction,
            "device": dpo_lora.device_name(torch),
            "seconds": round(seconds, 2),
        }
    )
    out = args.output or os.path.join(args.model_dir, "eval.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print("eval: " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
