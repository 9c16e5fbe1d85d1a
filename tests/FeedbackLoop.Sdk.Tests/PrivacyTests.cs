using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Sampling;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>Redaction, pseudonymous user ids and session sampling: what leaves the process.</summary>
public sealed class PrivacyTests
{
    [Theory]
    // e-mail
    [InlineData("write to jane.doe+ml@example.co.uk today", "write to [email] today")]
    [InlineData("a@b.io", "[email]")]
    [InlineData("not an email: user@localhost or @handle", "not an email: user@localhost or @handle")]
    // phone
    [InlineData("call +1 (415) 555-0132 now", "call [phone] now")]
    [InlineData("mobile 0171 2345678", "mobile [phone]")]
    [InlineData("+44 20 7946 0958", "[phone]")]
    [InlineData("tel. 555-0132", "tel. [phone]")] // a 7-digit local number
    [InlineData("on 2024-03-15 we met", "on 2024-03-15 we met")] // ISO date
    [InlineData("host 192.168.10.12", "host [ip]")] // IPv4: an address, not a phone
    [InlineData("order 12345 shipped", "order 12345 shipped")] // too few digits
    // payment cards (Luhn)
    [InlineData("card 4111 1111 1111 1111 exp 12/29", "card [card] exp 12/29")]
    [InlineData("5500-0000-0000-0004", "[card]")]
    [InlineData("378282246310005", "[card]")] // Amex, 15 digits
    [InlineData("ref 4111111111111112", "ref 4111111111111112")] // fails Luhn: not a card (and too long for a phone)
    // secrets
    [InlineData("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abcdefgh", "Authorization: Bearer [secret]")]
    [InlineData("key sk-proj-abcdefghijklmnopqrstuvwx1234", "key [secret]")]
    [InlineData("AKIAIOSFODNN7EXAMPLE is the id", "[secret] is the id")]
    [InlineData("token ghp_0123456789abcdefghijABCDEFGHIJ012345", "token [secret]")]
    [InlineData("api_key=\"s3cr3tValue99\"", "api_key=\"[secret]\"")]
    [InlineData("password: hunter2hunter2", "password: [secret]")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----", "[secret]")]
    [InlineData("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt [secret]")]
    // ordinary text is untouched
    [InlineData("The capital of France is Paris.", "The capital of France is Paris.")]
    [InlineData("version 1.2.3 released in 2024", "version 1.2.3 released in 2024")]
    // the shapes added for issue 10, one each (RedactionCorpusTests holds the full corpus and the scores)
    [InlineData("Kontakt: jürgen.müller@beispiel.de", "Kontakt: [email]")] // the whole local part, not "jürgen.mü[email]"
    [InlineData("postgres://admin:S3cretPassw0rd@db.example.com:5432/app", "postgres://[secret]@db.example.com:5432/app")]
    [InlineData("IBAN DE89 3704 0044 0532 0130 00", "IBAN [iban]")]
    [InlineData("IBAN DE89 3704 0044 0532 0130 01", "IBAN DE89 3704 0044 0532 0130 01")] // fails mod 97 (and is no phone: 22 digits)
    [InlineData("card 4111.1111.1111.1111", "card [card]")]
    [InlineData("NI number AB 12 34 56 C", "NI number [id]")]
    [InlineData("SSN 123-45-6789", "SSN [id]")]
    [InlineData("passport number 533380006", "passport number [id]")]
    [InlineData("born on 12 March 1985", "born on [dob]")]
    [InlineData("on 12 March 1985", "on 12 March 1985")] // a date without a birth word
    [InlineData("from 2001:db8::8a2e:370:7334", "from [ip]")]
    [InlineData("I live at 221B Baker Street", "I live at [address]")]
    [InlineData("my password is hunter2!", "my password is [secret]")]
    [InlineData("The password is required.", "The password is required.")]
    [InlineData("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==", "Authorization: Basic [secret]")]
    [InlineData("Basic understanding of Python", "Basic understanding of Python")]
    [InlineData("https://hooks.slack.com/services/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", "[secret]")]
    [InlineData("reset?token=Zx81kPq02LmN77aa&lang=en", "reset?token=[secret]&lang=en")]
    [InlineData("request 123e4567-e89b-12d3-a456-426614174000", "request 123e4567-e89b-12d3-a456-426614174000")]
    [InlineData("ts=1700000000000", "ts=1700000000000")] // epoch milliseconds
    [InlineData("ISBN 978-3-16-148410-0", "ISBN 978-3-16-148410-0")]
    [InlineData("pi is 3.14159265358979", "pi is 3.14159265358979")]
    public void The_default_redactors_replace_personal_data_and_secrets(string text, string expected) =>
        Assert.Equal(expected, Redactor.Apply(Redactor.Defaults, text));

    [Fact]
    public void Text_without_findings_is_returned_as_the_same_instance()
    {
        var text = "nothing personal here";
        Assert.Same(text, Redactor.Apply(Redactor.Defaults, text));
    }

    [Theory]
    [InlineData("4111111111111111", true)]
    [InlineData("4111111111111112", false)]
    [InlineData("79927398713", false)] // valid Luhn but 11 digits: too short for a card
    [InlineData("6011 0009 9013 9424", true)]
    [InlineData("4111.1111.1111.1111", true)]
    public void Luhn_check(string number, bool passes) => Assert.Equal(passes, PaymentCardRedactor.PassesLuhn(number));

    [Theory]
    [InlineData("DE89 3704 0044 0532 0130 00", true)]
    [InlineData("DE89370400440532013000", true)]
    [InlineData("GB82 WEST 1234 5698 7654 32", true)]
    [InlineData("GB82 WEST 1234 5698 7654 33", false)]
    [InlineData("NL91ABNA0417164300", true)]
    [InlineData("NL91ABNA0417164301", false)]
    [InlineData("XX00", false)] // too short
    public void Mod_97_check(string iban, bool passes) => Assert.Equal(passes, IbanRedactor.PassesMod97(iban));

    [Fact]
    public async Task Redaction_happens_before_the_transport_sees_the_event_on_input_output_and_edits()
    {
        var transport = new RecordingTransport();
        var custom = Redactor.FromRegex("account", new System.Text.RegularExpressions.Regex(@"ACC-\d{6}"), "[account]");
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Redactors = [.. Redactor.Defaults, custom] }, transport))
        {
            var g = client.Shown("s1", "u1", "m1", [new ConversationTurn("user", "I am jane@example.com, card 4111 1111 1111 1111, account ACC-123456")],
                "Noted, jane@example.com. Call +1 415 555 0132.");
            client.Edited("s1", "u1", g, "Call me at +49 30 1234567 instead");
        }

        var raw = string.Concat(transport.Events.Select(e => System.Text.Encoding.UTF8.GetString(e.Json.Span)));
        Assert.DoesNotContain("jane@example.com", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("4111", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("ACC-123456", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("555 0132", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("1234567", raw, StringComparison.Ordinal);
        var events = transport.Parsed();
        var shown = Assert.IsType<GenerationShown>(events[0].Data);
        Assert.Equal("I am [email], card [card], account [account]", shown.Input[0].Content);
        Assert.Equal("Noted, [email]. Call [phone].", shown.Output);
        Assert.Equal("Call me at [phone] instead", Assert.IsType<GenerationEdited>(events[1].Data).EditedOutput);
    }

    [Fact]
    public async Task An_empty_redactor_list_turns_redaction_off()
    {
        var transport = new RecordingTransport();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Redactors = [] }, transport))
        {
            client.Edited("s1", "u1", "g1", "mail jane@example.com");
        }
        Assert.Equal("mail jane@example.com", Assert.IsType<GenerationEdited>(Assert.Single(transport.Parsed()).Data).EditedOutput);
    }

    [Fact]
    public void User_id_pseudonyms_are_stable_per_key_and_differ_across_keys()
    {
        var a = UserIdHasher.FromSecret("a-secret-of-sixteen+");
        var b = UserIdHasher.FromSecret("another-secret-of-16");

        Assert.Equal(a.Hash("customer-42"), a.Hash("customer-42"));
        Assert.NotEqual(a.Hash("customer-42"), a.Hash("customer-43"));
        Assert.NotEqual(a.Hash("customer-42"), b.Hash("customer-42"));
        Assert.Matches("^u_[0-9a-f]{32}$", a.Hash("customer-42"));
        Assert.Throws<ArgumentException>(() => UserIdHasher.FromSecret("short"));
    }

    [Fact]
    public async Task The_client_can_pseudonymize_every_user_id()
    {
        var transport = new RecordingTransport();
        var hasher = UserIdHasher.FromSecret("a-secret-of-sixteen+");
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", UserIdHasher = hasher }, transport))
        {
            client.Copied("s1", "jane@example.com", "g1");
        }
        Assert.Equal(hasher.Hash("jane@example.com"), Assert.Single(transport.Parsed()).UserId);
    }

    [Fact]
    public async Task Sampling_keeps_or_drops_whole_sessions_deterministically()
    {
        var transport = new RecordingTransport();
        var sampler = new SessionSampler(0.5);
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = "app", Sampling = sampler }, transport))
        {
            for (var s = 0; s < 1_000; s++)
            {
                var g = client.Shown("session-" + s, "u1", "m1", [new ConversationTurn("user", "hi")], "hello");
                client.Thumb("session-" + s, "u1", g, ThumbValue.Up);
                client.SessionEnded("session-" + s, "u1");
            }
            Assert.True(await client.FlushAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(3_000, client.Counters.Received);
            Assert.Equal(3_000 - transport.Events.Count, client.Counters.SampledOut);
        }

        var bySession = transport.Parsed().GroupBy(e => e.SessionId).ToList();
        Assert.All(bySession, g => Assert.Equal(3, g.Count())); // whole sessions
        Assert.InRange(bySession.Count, 430, 570); // about half of 1,000 (±4.4 standard deviations)
        Assert.All(bySession, g => Assert.True(SessionSampler.Position(g.Key) < 0.5));
        // The decision is a pure function of the session id: another sampler agrees.
        Assert.All(bySession, g => Assert.True(new SessionSampler(0.5).Keep(EventTypes.FeedbackThumb, g.Key)));
    }

    [Fact]
    public void Per_type_rates_keep_nested_sets_of_sessions()
    {
        var sampler = new SessionSampler(1.0, new Dictionary<string, double> { [EventTypes.GenerationDwell] = 0.1, [EventTypes.GenerationShown] = 0.5 });
        var sessions = Enumerable.Range(0, 2_000).Select(i => "s-" + i).ToList();

        var dwell = sessions.Where(s => sampler.Keep(EventTypes.GenerationDwell, s)).ToHashSet();
        var shown = sessions.Where(s => sampler.Keep(EventTypes.GenerationShown, s)).ToHashSet();

        Assert.True(dwell.IsSubsetOf(shown));
        Assert.All(sessions, s => Assert.True(sampler.Keep(EventTypes.FeedbackThumb, s)));
        Assert.InRange(dwell.Count, 140, 260);
        Assert.Throws<ArgumentException>(() => new SessionSampler(1.0, new Dictionary<string, double> { ["no.such.type"] = 0.5 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SessionSampler(1.5));
    }

    [Fact]
    public void Session_positions_are_pinned_so_other_languages_can_repeat_them()
    {
        // XxHash3-64 (seed 0) of the UTF-8 bytes, top 53 bits over 2^53.
        var hash = System.IO.Hashing.XxHash3.HashToUInt64("session-1"u8);
        Assert.Equal((hash >> 11) / (double)(1UL << 53), SessionSampler.Position("session-1"));
        Assert.InRange(SessionSampler.Position("session-1"), 0.0, 1.0);
    }
}
