using System.Text;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>The engine's memo of PCK chains (FMSPC per chain): one entry per chain, never a changed verdict.</summary>
public sealed class PlatformMemoTests
{
    private static readonly byte[] Quote = File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin"));

    private static AttestationEngine Engine() => new(
        new ServiceOptions { InstanceUrl = "https://attest.test", DataDirectory = Path.GetTempPath(), CollateralDirectory = Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05") },
        new FixedClock(ServiceFixture.PinnedTime));

    private static Task Attest(AttestationEngine engine, byte[] quote) => engine.AttestAsync(
        "SgxEnclave", new AttestRequest(quote, null, false, null, null), PolicyCompiler.Compile(DefaultPolicies.Sgx), DefaultPolicies.Sgx, null, ServiceFixture.PinnedTime, CancellationToken.None);

    /// <summary>The quote with one base64 character of the PCK certificate's signature changed.</summary>
    private static byte[] WithTamperedPckSignature()
    {
        var copy = (byte[])Quote.Clone();
        var end = copy.AsSpan().IndexOf("-----END CERTIFICATE-----"u8);
        var at = end - 12;
        while (copy[at] is (byte)'\n' or (byte)'=')
        {
            at--;
        }

        copy[at] = copy[at] == (byte)'A' ? (byte)'B' : (byte)'A';
        return copy;
    }

    [Fact]
    public async Task A_chain_is_remembered_once_and_a_tampered_chain_is_refused_before_and_after()
    {
        var engine = Engine();
        var tampered = WithTamperedPckSignature();
        Assert.NotEqual(Encoding.ASCII.GetString(Quote), Encoding.ASCII.GetString(tampered));

        var before = await Assert.ThrowsAsync<MaaException>(() => Attest(engine, tampered));
        var remembered = engine.RememberedPlatforms;
        for (var i = 0; i < 3; i++)
        {
            await Attest(engine, Quote);
        }

        Assert.Equal(remembered + 1, engine.RememberedPlatforms);

        // The memo holds what a chain says (its FMSPC), not whether it verifies: the verdict is the verifier's every time.
        var after = await Assert.ThrowsAsync<MaaException>(() => Attest(engine, tampered));
        Assert.Equal(before.Code, after.Code);
        Assert.Equal(before.Message, after.Message);
        Assert.Equal(remembered + 1, engine.RememberedPlatforms);
        Assert.True(engine.RememberedPlatforms <= AttestationEngine.MaxRememberedPlatforms);
    }
}
