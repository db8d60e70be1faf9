using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Veritee.Policy.Tests;

/// <summary>Truncated, bit-flipped and spliced policies never throw: the parser answers with diagnostics only.</summary>
public class FuzzTests
{
    private static readonly string[] Splices =
    [
        "[", "]", "=>", ";", "\"", "!", "&&", "(", ")", "{", "}", ":", ".", ",", "==", "=", "<=", "JmesPath(", "JsonToClaimValue(",
        "c.value", "c:", "\\", "\n", "\u201D", "//", "version=1.2;", "issuancerules", "configurationrules", "-", "9999999999999999999999", "0x1",
        "permit()", "issue(claim=c)", "\uD800", "\0",
    ];

    private static readonly PolicyClaim[] Claims =
    [
        PolicyClaim.Service("x-ms-sgx-is-debuggable", ClaimValue.True),
        PolicyClaim.Service("x-ms-sgx-mrsigner", ClaimValue.FromString("4aea5f9a")),
        PolicyClaim.Service("x-ms-sgx-product-id", ClaimValue.FromInteger(1)),
        PolicyClaim.Service("events", ClaimValue.FromString("{\"Events\": []}")),
        PolicyClaim.Service("secureBootEnabled", ClaimValue.True),
    ];

    [Fact]
    public void Mutated_vector_policies_yield_diagnostics_never_exceptions()
    {
        var random = new Random(20240531);
        var sources = PolicyVectors.AllPolicyFiles().Select(PolicyVectors.ReadPolicy).ToList();
        int parsed = 0, rejected = 0;
        foreach (var source in sources)
        {
            for (var i = 0; i < 300; i++)
            {
                var mutated = Mutate(source, random);
                if (Check(mutated))
                {
                    parsed++;
                }
                else
                {
                    rejected++;
                }
            }
        }

        // Both outcomes must actually occur, or the mutations are not exercising anything.
        Assert.True(parsed > 100, $"parsed {parsed}");
        Assert.True(rejected > 1000, $"rejected {rejected}");
    }

    [Fact]
    public void Every_prefix_of_a_policy_is_handled()
    {
        var text = PolicyVectors.ReadPolicy("docs/tpm-samples.v1.2-system-guard.txt");
        for (var length = 0; length <= text.Length; length++)
        {
            Check(text[..length]);
        }
    }

    [Fact]
    public void Random_bytes_decoded_as_text_are_handled()
    {
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            Check(Encoding.UTF8.GetString(bytes));
            Check("version=1.2; authorizationrules { " + Encoding.Latin1.GetString(bytes) + " };");
        }
    }

    [Fact]
    public void Arbitrary_strings_are_handled()
    {
        Prop.ForAll<string>(text =>
        {
            Check(text ?? string.Empty);
            Check("version=1.2; authorizationrules { => permit(); }; issuancerules { " + text + " };");
            return true;
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>Parses (which must not throw); on success, printing, re-parsing, compiling and evaluating must not throw either.</summary>
    private static bool Check(string text)
    {
        var result = PolicyParser.Parse(text);
        foreach (var diagnostic in result.Diagnostics)
        {
            Assert.False(string.IsNullOrEmpty(diagnostic.Message));
            Assert.InRange(diagnostic.Span.Offset, 0, text.Length);
            Assert.True(diagnostic.Span.Line >= 1 && diagnostic.Span.Column >= 1);
            Assert.NotNull(diagnostic.ToMaaText());
        }

        if (result.Document is null)
        {
            Assert.Contains(result.Diagnostics, d => d.IsError);
            return false;
        }

        var reparsed = PolicyParser.Parse(PolicyPrinter.Print(result.Document));
        Assert.True(reparsed.Success);
        Assert.True(AstEquality.Equal(result.Document, reparsed.Document!));
        CompiledPolicy.Compile(result.Document).Evaluate(Claims);
        PolicyParser.ParseRules(text);
        return true;
    }

    private static string Mutate(string source, Random random)
    {
        var text = new StringBuilder(source);
        var edits = random.Next(1, 4);
        for (var e = 0; e < edits && text.Length > 0; e++)
        {
            var at = random.Next(text.Length);
            switch (random.Next(5))
            {
                case 0:
                    text.Length = at; // truncate
                    break;
                case 1:
                    text[at] = (char)(text[at] ^ (1 << random.Next(16))); // flip one bit of a character
                    break;
                case 2:
                    text.Remove(at, Math.Min(random.Next(1, 8), text.Length - at));
                    break;
                case 3:
                    text.Insert(at, Splices[random.Next(Splices.Length)]);
                    break;
                default:
                    var length = Math.Min(random.Next(1, 20), text.Length - at);
                    text.Insert(random.Next(text.Length), text.ToString(at, length)); // duplicate a chunk elsewhere
                    break;
            }
        }

        return text.ToString();
    }
}
