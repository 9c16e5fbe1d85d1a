#!/usr/bin/env python3
"""Reference GPU trainer: DPO with a LoRA adapter on a causal LM, reading FeedbackLoop preference pairs.

Input: the Parquet files FeedbackLoop writes (TRL's conversational preference format): `pair_id`,
`prompt` (list<struct{role, content}>), `chosen` and `rejected` (list<struct{role, content}>, one assistant
message each) and `weight`. Pairs are split into train and eval by `pair_id` exactly as the C#
`TrainEvalSplit.IsEval` does, so this script trains on the same pairs the .NET pipeline would train on and
never on the ones it holds out.

Model: `--base_model` is a folder of a Hugging Face causal LM (weights supplied by the user; the GPU machine
has no model hub) or `config:<json>`, which builds a LlamaForCausalLM from a LlamaConfig with random weights
(seeded) and a tokenizer trained here on the training texts (byte-level BPE with the `tokenizers` package when
it is installed, else a plain byte tokenizer). The policy is base + LoRA (peft); the frozen reference is the
same model with the adapter disabled. Loss: sigmoid DPO, beta 0.1 by default, with log-probabilities summed
over the response tokens only.

Output (`--output`): `adapter/` (peft `save_pretrained`), `tokenizer/`, `base_model/` (config and the
random base's state_dict, for `config:` bases only, so the evaluator scores against the identical base),
`train_args.json` and `metrics.json`.

The split, the pair loading and the tokenisation are shared with eval_pairwise.py, which imports this file.
"""

import argparse
import glob
import hashlib
import json
import math
import os
import random
import struct
import sys
import time

# ---------------------------------------------------------------------------------------------------------
# Train/eval split: must agree with src/FeedbackLoop.Core/Gating/TrainEvalSplit.cs bit for bit.
# ---------------------------------------------------------------------------------------------------------

_UNIT_OF_53_BITS = 1.0 / float(1 << 53)


def split_fraction(pair_id):
    """SHA-256 of the UTF-8 pair_id, first 8 bytes big-endian as uint64, top 53 bits over 2**53: in [0, 1)."""
    digest = hashlib.sha256(pair_id.encode("utf-8")).digest()
    (bits,) = struct.unpack(">Q", digest[:8])
    return (bits >> 11) * _UNIT_OF_53_BITS


def is_eval(pair_id, eval_fraction):
    """True when the pair belongs to the eval set (TrainEvalSplit.IsEval)."""
    if not (0.0 <= eval_fraction <= 1.0):  # also rejects NaN
        raise ValueError(f"the eval fraction must be in [0, 1], got {eval_fraction}")
    return split_fraction(pair_id) < eval_fraction


# Values pinned by tests/FeedbackLoop.Core.Tests/Gating/TrainEvalSplitTests.cs.
SPLIT_KNOWN_CASES = [("pair-4", 0.028822847097334625), ("pair-1", 0.9886071683487817)]


def split_self_test(verbose=True):
    for pair_id, expected in SPLIT_KNOWN_CASES:
        got = split_fraction(pair_id)
        if verbose:
            print(f"split self-test: {pair_id!r} -> {got!r} (C# test expects {expected!r})")
        if got != expected:
            raise AssertionError(f"split_fraction({pair_id!r}) = {got!r}, the C# rule gives {expected!r}")
    assert is_eval("pair-4", 0.2) and not is_eval("pair-1", 0.2)


# ---------------------------------------------------------------------------------------------------------
# Reading pairs
# ---------------------------------------------------------------------------------------------------------


def parquet_files(spec):
    """A folder (searched recursively), a single file or a glob pattern; sorted, so the order is stable."""
    if os.path.isdir(spec):
        files = glob.glob(os.path.join(spec, "**", "*.parquet"), recursive=True)
    else:
        files = glob.glob(spec, recursive=True)
    files = sorted(f for f in files if os.path.isfile(f))
    if not files:
        raise SystemExit(f"no Parquet files found at {spec!r}")
    return files


def render_prompt(messages):
    """Chat-like template: every message as "<|role|>\\ncontent\\n", then "<|assistant|>\\n" to answer."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


def render_response(messages):
    """The response text: the one assistant message (several, if present, are joined with the template)."""
    if len(messages) == 1:
        return messages[0]["content"]
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages)


def load_pairs(spec):
    """Rows as dicts {pair_id, prompt_text, chosen_text, rejected_text, weight}, deduplicated, sorted by id."""
    import pyarrow.parquet as pq

    wanted = ["pair_id", "prompt", "chosen", "rejected", "weight"]
    by_id = {}
    duplicates = 0
    files = parquet_files(spec)
    for path in files:
        schema_names = pq.read_schema(path).names
        missing = [c for c in wanted[:4] if c not in schema_names]
        if missing:
            raise SystemExit(f"{path}: missing column(s) {missing}")
        table = pq.read_table(path, columns=[c for c in wanted if c in schema_names])
        for row in table.to_pylist():
            pair_id = row["pair_id"]
            if pair_id in by_id:
                duplicates += 1
                continue
            if not row["chosen"] or not row["rejected"]:
                raise SystemExit(f"{path}: pair {pair_id} has an empty chosen or rejected list")
            weight = row.get("weight")
            by_id[pair_id] = {
                "pair_id": pair_id,
                "prompt_text": render_prompt(row["prompt"] or []),
                "chosen_text": render_response(row["chosen"]),
                "rejected_text": render_response(row["rejected"]),
                "weight": 1.0 if weight is None else float(weight),
            }
    pairs = [by_id[k] for k in sorted(by_id)]
    print(f"read {len(pairs)} pairs from {len(files)} Parquet file(s)" + (f", {duplicates} duplicate ids skipped" if duplicates else ""))
    return pairs


def split_pairs(pairs, eval_fraction):
    train = [p for p in pairs if not is_eval(p["pair_id"], eval_fraction)]
    evals = [p for p in pairs if is_eval(p["pair_id"], eval_fraction)]
    return train, evals


# ---------------------------------------------------------------------------------------------------------
# Tokenisers: byte-level BPE trained here (tokenizers), plain bytes, or the base model's own (folder bases)
# ---------------------------------------------------------------------------------------------------------

SPECIALS = ["<pad>", "<bos>", "<eos>"]  # ids 0, 1, 2 for the tokenisers built here


class ByteTokenizer:
    """ids = UTF-8 bytes + 3; 0 = pad, 1 = bos, 2 = eos."""

    kind = "byte"
    offset = len(SPECIALS)
    pad_id, bos_id, eos_id = 0, 1, 2
    vocab_size = 256 + len(SPECIALS)

    def encode(self, text):
        return [b + self.offset for b in text.encode("utf-8")]

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        meta = {"kind": self.kind, "offset": self.offset, "pad_id": 0, "bos_id": 1, "eos_id": 2, "vocab_size": self.vocab_size}
        with open(os.path.join(folder, "tokenizer_meta.json"), "w") as f:
            json.dump(meta, f, indent=2)


class BpeTokenizer:
    """Byte-level BPE from the `tokenizers` package; the special tokens take ids 0-2."""

    kind = "bpe"
    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, tok):
        self.tok = tok
        for i, s in enumerate(SPECIALS):
            if tok.token_to_id(s) != i:
                raise ValueError(f"special token {s} has id {tok.token_to_id(s)}, expected {i}")
        self.vocab_size = tok.get_vocab_size()

    @classmethod
    def train(cls, texts, vocab_size):
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=SPECIALS,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer)
        return cls(tok)

    @classmethod
    def load(cls, folder):
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(os.path.join(folder, "tokenizer.json")))

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        self.tok.save(os.path.join(folder, "tokenizer.json"))
        meta = {"kind": self.kind, "pad_id": 0, "bos_id": 1, "eos_id": 2, "vocab_size": self.vocab_size}
        with open(os.path.join(folder, "tokenizer_meta.json"), "w") as f:
            json.dump(meta, f, indent=2)
        try:  # also loadable with transformers.AutoTokenizer; optional, the evaluator does not need it
            from transformers import PreTrainedTokenizerFast

            PreTrainedTokenizerFast(tokenizer_object=self.tok, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>").save_pretrained(folder)
        except Exception as e:  # noqa: BLE001 - a convenience only
            print(f"note: no transformers tokenizer files written ({type(e).__name__}: {e})")
        finally:
            # save_pretrained rewrites tokenizer.json; put the raw one back so load() reads what train() made.
            self.tok.save(os.path.join(folder, "tokenizer.json"))


class HfTokenizer:
    """The tokenizer of a user-supplied model folder (AutoTokenizer)."""

    kind = "hf"

    def __init__(self, folder):
        from transformers import AutoTokenizer

        self.folder = folder
        self.tok = AutoTokenizer.from_pretrained(folder)
        self.eos_id = self.tok.eos_token_id
        if self.eos_id is None:
            raise SystemExit(f"the tokenizer in {folder} has no eos token")
        self.bos_id = self.tok.bos_token_id  # may be None: then no bos is prepended
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos_id
        self.vocab_size = len(self.tok)

    def encode(self, text):
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def save(self, folder):
        self.tok.save_pretrained(folder)
        meta = {"kind": self.kind, "source": os.path.abspath(self.folder), "pad_id": self.pad_id, "bos_id": self.bos_id, "eos_id": self.eos_id, "vocab_size": self.vocab_size}
        with open(os.path.join(folder, "tokenizer_meta.json"), "w") as f:
            json.dump(meta, f, indent=2)


def load_tokenizer(folder):
    with open(os.path.join(folder, "tokenizer_meta.json")) as f:
        meta = json.load(f)
    if meta["kind"] == "byte":
        return ByteTokenizer()
    if meta["kind"] == "bpe":
        return BpeTokenizer.load(folder)
    if meta["kind"] == "hf":
        return HfTokenizer(folder)
    raise SystemExit(f"unknown tokenizer kind {meta['kind']!r} in {folder}")


# ---------------------------------------------------------------------------------------------------------
# Sequences and batches
# ---------------------------------------------------------------------------------------------------------


def build_sequence(tok, prompt_ids, response_ids, max_len):
    """[bos] prompt response [eos], truncated to max_len (the prompt loses its start first, down to half of
    max_len, then the response loses its end). Returns (ids, response_mask, truncated)."""
    head = [tok.bos_id] if tok.bos_id is not None else []
    prompt = head + list(prompt_ids)
    response = list(response_ids) + [tok.eos_id]
    truncated = False
    if len(prompt) + len(response) > max_len:
        truncated = True
        keep_prompt = max(max_len - len(response), max_len // 2)
        if len(prompt) > keep_prompt:
            prompt = head + prompt[len(prompt) - (keep_prompt - len(head)):]
        response = response[: max_len - len(prompt)]
    return prompt + response, [0] * len(prompt) + [1] * len(response), truncated


def encode_pairs(tok, pairs, max_len):
    """Token ids for every pair: dicts {chosen, chosen_mask, rejected, rejected_mask, weight}."""
    out, truncated = [], 0
    for p in pairs:
        prompt_ids = tok.encode(p["prompt_text"])
        c, cm, ct = build_sequence(tok, prompt_ids, tok.encode(p["chosen_text"]), max_len)
        r, rm, rt = build_sequence(tok, prompt_ids, tok.encode(p["rejected_text"]), max_len)
        truncated += ct + rt
        out.append({"pair_id": p["pair_id"], "chosen": c, "chosen_mask": cm, "rejected": r, "rejected_mask": rm, "weight": p["weight"]})
    return out, truncated


def collate(torch, encoded, pad_id, device):
    """One padded batch of 2B sequences, chosen first then rejected, right-padded."""
    seqs = [e["chosen"] for e in encoded] + [e["rejected"] for e in encoded]
    masks = [e["chosen_mask"] for e in encoded] + [e["rejected_mask"] for e in encoded]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(seqs), width), dtype=torch.long)
    response = torch.zeros((len(seqs), width), dtype=torch.float32)
    for i, (s, m) in enumerate(zip(seqs, masks)):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        attention[i, : len(s)] = 1
        response[i, : len(m)] = torch.tensor(m, dtype=torch.float32)
    weights = torch.tensor([e["weight"] for e in encoded], dtype=torch.float32)
    n_tokens = int(attention.sum())
    return ids.to(device), attention.to(device), response.to(device), weights.to(device), n_tokens


def sequence_logps(torch, model, ids, attention, response):
    """Sum of log p(token | prefix) over the response tokens of each sequence (prompt and padding masked)."""
    logits = model(input_ids=ids, attention_mask=attention, use_cache=False).logits
    logits = logits[:, :-1, :].float()
    labels = ids[:, 1:]
    logp = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return (logp * response[:, 1:]).sum(dim=-1)


# ---------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------

LLAMA_KEYS = {
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
    "vocab_size", "max_position_embeddings", "rms_norm_eps", "hidden_act", "initializer_range",
    "tie_word_embeddings", "attention_dropout", "head_dim",
}


def parse_base_model(spec):
    """('config', dict) for `config:<json>`, else ('folder', path)."""
    if spec.startswith("config:"):
        cfg = json.loads(spec[len("config:"):])
        unknown = set(cfg) - LLAMA_KEYS
        if unknown:
            raise SystemExit(f"--base_model config: unsupported key(s) {sorted(unknown)}; allowed: {sorted(LLAMA_KEYS)}")
        return "config", cfg
    if not os.path.isdir(spec):
        raise SystemExit(f"--base_model {spec!r}: not a folder and not config:<json> (there is no model hub here)")
    return "folder", spec


def llama_config_dict(cfg, tok, max_len):
    """The LlamaConfig kwargs: the user's, with the vocabulary and special ids taken from the tokenizer."""
    out = dict(cfg)
    if out.get("vocab_size") not in (None, tok.vocab_size):
        print(f"note: vocab_size {out['vocab_size']} replaced by the tokenizer's {tok.vocab_size}")
    out["vocab_size"] = tok.vocab_size
    out.setdefault("max_position_embeddings", max(2048, max_len))
    out.update(pad_token_id=tok.pad_id, bos_token_id=tok.bos_id, eos_token_id=tok.eos_id)
    return out


def build_random_llama(torch, config_dict, seed):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**config_dict))


def device_name(torch):
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu"


# ---------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------

DEFAULT_PARAMS = {
    "beta": 0.1,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.0,
    "lora_target_modules": "all-linear",
    "tokenizer": "auto",  # auto | bpe | byte (config: bases only); auto = bpe when `tokenizers` is installed
    "bpe_vocab_size": 2048,
    "warmup_steps": 20,
    "min_lr_ratio": 0.1,
    "weight_decay": 0.0,
    "grad_clip": 1.0,
}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", help="preference-pair Parquet: a folder, a file or a glob")
    ap.add_argument("--output", help="output folder")
    ap.add_argument("--base_model", help="a model folder, or config:<LlamaConfig json>")
    ap.add_argument("--eval_fraction", type=float, default=0.2, help="held-out share, as TrainEvalSplit (default 0.2)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--batch_size", type=int, default=32, help="pairs per step")
    ap.add_argument("--max_len", type=int, default=512, help="tokens per sequence, prompt + response")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--params", default="{}", help="JSON overriding: " + json.dumps(DEFAULT_PARAMS))
    ap.add_argument("--log_every", type=int, default=25, help="steps between progress lines")
    ap.add_argument("--self_test", action="store_true", help="check the split against the C# rule and exit")
    args = ap.parse_args(argv)
    if not args.self_test:
        missing = [f"--{k}" for k in ("train", "output", "base_model") if not getattr(args, k)]
        if missing:
            ap.error("the following arguments are required: " + ", ".join(missing))
    return args


def resolve_params(text):
    params = dict(DEFAULT_PARAMS)
    given = json.loads(text)
    unknown = set(given) - set(DEFAULT_PARAMS)
    if unknown:
        raise SystemExit(f"--params: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}")
    params.update(given)
    return params


def make_tokenizer(kind, base, params, train_pairs):
    if kind == "folder":
        return HfTokenizer(base)
    choice = params["tokenizer"]
    if choice == "auto":
        try:
            import tokenizers  # noqa: F401

            choice = "bpe"
        except ImportError:
            choice = "byte"
    if choice == "byte":
        return ByteTokenizer()
    if choice == "bpe":
        texts = [p["prompt_text"] for p in train_pairs] + [p["chosen_text"] for p in train_pairs] + [p["rejected_text"] for p in train_pairs]
        return BpeTokenizer.train(texts, int(params["bpe_vocab_size"]))
    raise SystemExit(f"--params tokenizer: {choice!r} is not auto, bpe or byte")


def main(argv=None):
    args = parse_args(argv)
    split_self_test(verbose=args.self_test)
    if args.self_test:
        print("split self-test passed")
        return 0
    params = resolve_params(args.params)
    kind, base = parse_base_model(args.base_model)

    import torch
    import torch.nn.functional as F
    from peft import LoraConfig, get_peft_model

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    print(f"device: {device_name(torch)}; bf16 autocast: {use_bf16}")

    pairs = load_pairs(args.train)
    train_pairs, eval_pairs = split_pairs(pairs, args.eval_fraction)
    print(f"split (eval_fraction {args.eval_fraction}): {len(train_pairs)} train, {len(eval_pairs)} eval")
    if not train_pairs:
        raise SystemExit("no training pairs")

    os.makedirs(args.output, exist_ok=True)
    tok = make_tokenizer(kind, base, params, train_pairs)
    tok.save(os.path.join(args.output, "tokenizer"))
    print(f"tokenizer: {tok.kind}, vocab {tok.vocab_size}")
    encoded, truncated = encode_pairs(tok, train_pairs, args.max_len)
    lengths = [len(e["chosen"]) for e in encoded] + [len(e["rejected"]) for e in encoded]
    print(f"sequences: mean {sum(lengths) / len(lengths):.1f} tokens, max {max(lengths)}, {truncated} truncated to {args.max_len}")

    model_config = None
    if kind == "config":
        model_config = llama_config_dict(base, tok, args.max_len)
        model = build_random_llama(torch, model_config, args.seed)
        base_dir = os.path.join(args.output, "base_model")
        os.makedirs(base_dir, exist_ok=True)
        with open(os.path.join(base_dir, "config.json"), "w") as f:
            json.dump(model_config, f, indent=2)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, os.path.join(base_dir, "base_state.pt"))
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(base)
    n_base = sum(p.numel() for p in model.parameters())

    lora = LoraConfig(
        r=int(params["lora_r"]),
        lora_alpha=float(params["lora_alpha"]),
        lora_dropout=float(params["lora_dropout"]),
        target_modules=params["lora_target_modules"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    print(f"model: {n_base / 1e6:.2f}M base parameters, {n_trainable / 1e6:.3f}M LoRA parameters (r={lora.r})")

    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=float(params["weight_decay"]))
    steps_per_epoch = math.ceil(len(encoded) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup = min(int(params["warmup_steps"]), max(total_steps // 10, 1))
    floor = float(params["min_lr_ratio"])

    def lr_factor(step):  # linear warm-up, then cosine down to min_lr_ratio
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(total_steps - warmup, 1)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    beta = float(params["beta"])
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_bf16 else (lambda: torch.autocast("cpu", enabled=False))
    order_rng = random.Random(args.seed)

    model.train()
    losses, step, tokens = [], 0, 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = list(range(len(encoded)))
        order_rng.shuffle(order)
        epoch_loss, epoch_acc, epoch_n = 0.0, 0.0, 0
        for b in range(steps_per_epoch):  # near-equal batches, so no step sees a lone leftover pair
            batch = [encoded[i] for i in order[b * len(order) // steps_per_epoch : (b + 1) * len(order) // steps_per_epoch]]
            ids, attention, response, weights, n_tok = collate(torch, batch, tok.pad_id, device)
            n = len(batch)
            with torch.no_grad(), model.disable_adapter(), autocast():
                ref = sequence_logps(torch, model, ids, attention, response)
            with autocast():
                pol = sequence_logps(torch, model, ids, attention, response)
            margin = beta * ((pol[:n] - ref[:n]) - (pol[n:] - ref[n:]))
            pair_losses = -F.logsigmoid(margin)
            loss = (weights * pair_losses).sum() / weights.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if params["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(trainable, float(params["grad_clip"]))
            optimizer.step()
            scheduler.step()
            step += 1
            tokens += n_tok
            loss_value = float(loss.detach())
            losses.append(loss_value)
            epoch_loss += loss_value * n
            epoch_acc += float((margin.detach() > 0).float().sum())
            epoch_n += n
            if step == 1 or step % args.log_every == 0 or step == total_steps:
                elapsed = time.perf_counter() - started
                print(f"step {step}/{total_steps} epoch {epoch + 1} loss {loss_value:.4f} lr {scheduler.get_last_lr()[0]:.2e} tokens/s {tokens / max(elapsed, 1e-9):,.0f}")
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {epoch_loss / epoch_n:.4f}, train reward accuracy {epoch_acc / epoch_n:.3f}")
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started

    model.save_pretrained(os.path.join(args.output, "adapter"))
    first = losses[:steps_per_epoch]
    last = losses[-steps_per_epoch:]
    metrics = {
        "train_pairs": len(train_pairs),
        "eval_pairs": len(eval_pairs),
        "tokens_per_s": round(tokens / seconds, 1),
        "tokens_per_s_definition": "non-padding tokens of chosen+rejected sequences per second of the training loop; each goes through the reference forward and the policy forward+backward",
        "train_loss_first": round(sum(first) / len(first), 6),
        "train_loss_last": round(sum(last) / len(last), 6),
        "train_loss_definition": "mean DPO loss over the steps of the first and of the last epoch",
        "train_loss_first_step": round(losses[0], 6),
        "train_loss_last_step": round(losses[-1], 6),
        "steps": step,
        "epochs": args.epochs,
        "seconds": round(seconds, 2),
        "device": device_name(torch),
        "bf16": use_bf16,
        "tokenizer": tok.kind,
        "vocab_size": tok.vocab_size,
        "base_parameters": n_base,
        "lora_parameters": n_trainable,
    }
    with open(os.path.join(args.output, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    with open(os.path.join(args.output, "train_args.json"), "w") as f:
        json.dump({"args": vars(args), "params": params, "base_kind": kind, "model_config": model_config}, f, indent=2)
    print("metrics: " + json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())
