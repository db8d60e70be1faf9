using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Sgx;

namespace Veritee.Dcap.Tests;

/// <summary>
/// End-to-end hostile input: cold verification of vector cases with one bit flipped in the quote or in one collateral
/// file never throws, and never yields a verified verdict other than the original one.
/// </summary>
public class VerifierFlipTests
{
    private const int QuoteFlips = 500;
    private const int CollateralFlips = 50;

    public static TheoryData<string> QuoteCases() => ["sgx-v3-processorca-confsw-2025-07", "tdx-v5-td15-uptodate-2025-06", "tdx-v4-module1-uptodate-2025-10"];

    [Theory]
    [MemberData(nameof(QuoteCases))]
    public void Flipped_quote_bits_fail_verification_or_do_not_matter(string id)
    {
        var c = VectorCase.Load(id);
        var genuine = c.Quote;
        var collateral = c.Collateral;
        var original = QuoteVerifier.VerifyCold(genuine, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.Equal(c.ExpectedStatus, original.Status.Name());
        Assert.True(original.IsVerified);

        var parsed = Quote.Parse(genuine);
        var pemStart = parsed.SignatureData.CertificationData.Offset;
        var end = parsed.Length;
        var random = new Random(0x5EED + id.Length);
        var positions = Enumerable.Range(0, QuoteFlips).Select(_ => random.Next(end)).ToList();
        if (genuine.Length > end)
        {
            positions.AddRange(Enumerable.Range(0, 12).Select(_ => random.Next(end, genuine.Length)));
            positions.Add(end);
            positions.Add(genuine.Length - 1);
        }

        var failures = new List<string>();
        foreach (var position in positions)
        {
            var bit = random.Next(8);
            var quote = (byte[])genuine.Clone();
            quote[position] ^= (byte)(1 << bit);
            VerificationResult result;
            try
            {
                result = QuoteVerifier.VerifyCold(quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"byte {position} bit {bit}: threw {e.GetType().FullName}: {e.Message} {Origin(e)}");
                continue;
            }

            var where = $"byte {position} bit {bit}: {result.Status.Name()} ({result.Detail})";
            if (position >= end)
            {
                // Padding after the signature data is ignored.
                if (result.Status != original.Status)
                {
                    failures.Add($"{where}: a flip in trailing padding changed the verdict");
                }
            }
            else if (position < pemStart)
            {
                // Header, body, signature data up to the PCK chain: every byte is signed, bound or structural.
                if (result.IsVerified)
                {
                    failures.Add($"{where}: verified despite a flip before the PCK chain");
                }
            }
            else if (result.IsVerified && result.Status != original.Status)
            {
                failures.Add($"{where}: a flip in the PCK chain gave another verified verdict");
            }

            if (!result.IsVerified && string.IsNullOrEmpty(result.Detail))
            {
                failures.Add($"{where}: failure without detail");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(12))}");
    }

    public static TheoryData<string, string> CollateralFiles()
    {
        var data = new TheoryData<string, string>();
        foreach (var id in new[] { "sgx-v3-processorca-confsw-2025-07", "tdx-v5-td15-uptodate-2025-06" })
        {
            foreach (var file in QuoteCollateral.FolderFiles)
            {
                data.Add(id, file);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CollateralFiles))]
    public void Flipped_collateral_bits_fail_verification_or_do_not_matter(string id, string file)
    {
        var c = VectorCase.Load(id);
        var quote = c.Quote;
        var collateral = c.Collateral;
        var original = QuoteVerifier.VerifyCold(quote, collateral, TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.True(original.IsVerified);

        var genuine = Get(collateral, file);
        var random = new Random(0xC011 + file.Length);
        var failures = new List<string>();
        var differentVerdicts = 0;
        for (var n = 0; n < CollateralFlips; n++)
        {
            var position = random.Next(genuine.Length);

            var bit = random.Next(8);
            var bytes = (byte[])genuine.Clone();
            bytes[position] ^= (byte)(1 << bit);
            VerificationResult result;
            try
            {
                result = QuoteVerifier.VerifyCold(quote, With(collateral, file, bytes), TrustAnchor.IntelSgxRootCa, c.Time);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"{file} byte {position} bit {bit}: threw {e.GetType().FullName}: {e.Message} {Origin(e)}");
                continue;
            }

            if (result.Status != original.Status)
            {
                differentVerdicts++;
                if (result.IsVerified)
                {
                    failures.Add($"{file} byte {position} bit {bit}: verified as {result.Status.Name()} instead of {original.Status.Name()}");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures:{Environment.NewLine}{string.Join(Environment.NewLine, failures.Take(12))}");

        // Almost every byte of collateral is signed or structural: most flips must be noticed. The PCK CRL issuer
        // chain is the exception: as in Intel QvE it only contributes expiration dates (docs/verification.md §5.1 step 5).
        if (file != "pck_crl_issuer_chain.pem")
        {
            Assert.True(differentVerdicts >= CollateralFlips / 2, $"only {differentVerdicts} of {CollateralFlips} flips in {file} changed the verdict");
        }
    }

    [Fact]
    public void Flipped_dcap_qvl_collateral_json_fails_to_load_or_verify_or_does_not_matter()
    {
        var c = VectorCase.Load("tdx-v4-uptodate-2025-07");
        var quote = c.Quote;
        var json = File.ReadAllBytes(Path.Combine(c.Folder, "collateral.dcap-qvl.json"));
        var original = QuoteVerifier.VerifyCold(quote, QuoteCollateral.FromDcapQvlJson(json), TrustAnchor.IntelSgxRootCa, c.Time);
        Assert.True(original.IsVerified);
        var random = new Random(0xDCA9);
        var failures = new List<string>();
        for (var n = 0; n < 200; n++)
        {
            var position = random.Next(json.Length);
            var bit = random.Next(8);
            var bytes = (byte[])json.Clone();
            bytes[position] ^= (byte)(1 << bit);
            try
            {
                var result = QuoteVerifier.VerifyCold(quote, QuoteCollateral.FromDcapQvlJson(bytes), TrustAnchor.IntelSgxRootCa, c.Time);
                if (result.IsVerified && result.Status != original.Status)
                {
                    failures.Add($"byte {position} bit {bit}: verified as {result.Status.Name()}");
                }
            }
            catch (DcapFormatException)
            {
                // The JSON no longer loads: rejected before verification, as it should be.
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"byte {position} bit {bit}: threw {e.GetType().FullName}: {e.Message} {Origin(e)}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(12)));
    }

    private static byte[] Get(QuoteCollateral c, string file) => file switch
    {
        "tcb_info.json" => c.TcbInfo,
        "qe_identity.json" => c.QeIdentity,
        "tcb_info_issuer_chain.pem" => c.TcbInfoIssuerChain,
        "qe_identity_issuer_chain.pem" => c.QeIdentityIssuerChain,
        "pck_crl_issuer_chain.pem" => c.PckCrlIssuerChain,
        "root_ca_crl.der" => c.RootCaCrl,
        "pck_crl.der" => c.PckCrl,
        _ => throw new ArgumentOutOfRangeException(nameof(file)),
    };

    private static QuoteCollateral With(QuoteCollateral c, string file, byte[] bytes) => file switch
    {
        "tcb_info.json" => c with { TcbInfo = bytes },
        "qe_identity.json" => c with { QeIdentity = bytes },
        "tcb_info_issuer_chain.pem" => c with { TcbInfoIssuerChain = bytes },
        "qe_identity_issuer_chain.pem" => c with { QeIdentityIssuerChain = bytes },
        "pck_crl_issuer_chain.pem" => c with { PckCrlIssuerChain = bytes },
        "root_ca_crl.der" => c with { RootCaCrl = bytes },
        "pck_crl.der" => c with { PckCrl = bytes },
        _ => throw new ArgumentOutOfRangeException(nameof(file)),
    };

    /// <summary>The innermost product frame of <paramref name="e"/>, to locate the bug.</summary>
    private static string Origin(Exception e) =>
        e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Veritee.", StringComparison.Ordinal) && !l.Contains(".Tests.", StringComparison.Ordinal)) ?? string.Empty;
}
