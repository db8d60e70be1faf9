using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Veritee.Dcap.Collateral;
using Veritee.Dcap.Verification;
using Veritee.Dcap.X509;
using Veritee.Sgx;
using Veritee.TestSupport;

namespace Veritee.Dcap.Tests;

/// <summary>
/// Truncated, bit-flipped and oversized inputs for the DCAP parsers (certificates, CRLs, TCB Info, QE Identity,
/// dcap-qvl collateral JSON): each input either parses or fails with exactly <see cref="DcapFormatException"/>.
/// </summary>
public class DcapHostileInputTests
{
    private const string Tdx = "tdx-v4-uptodate-2025-07";
    private const string Td15 = "tdx-v5-td15-uptodate-2025-06";
    private const string SgxV2 = "sgx-v3-debug-swhardening-tcbinfo-v2-2022-05";
    private const string SgxV3 = "sgx-v3-processorca-confsw-2025-07";

    /// <summary>JSON inputs are flipped in all 8 bits, so flips also produce invalid UTF-8 inside strings.</summary>
    private const int AsciiBits = 8;

    public static TheoryData<string> Certificates() => ["pck-leaf", "root", "platform-ca"];

    [Theory]
    [MemberData(nameof(Certificates))]
    public void Every_truncation_of_a_certificate_is_rejected(string which)
    {
        var der = Certificate(which);
        _ = DcapCertificate.Parse(der);
        Run(der, length => DcapCertificate.Parse(der[..length]), completeFrom: der.Length, "certificate", "public key");
    }

    [Theory]
    [MemberData(nameof(Certificates))]
    public void Every_bit_flip_of_a_certificate_parses_or_is_rejected(string which)
    {
        var der = Certificate(which);
        RunFlips(der, bytes => DcapCertificate.Parse(bytes), allBitsUpTo: der.Length, bits: 8, "certificate", "public key");
    }

    [Fact]
    public void Certificate_with_a_huge_declared_length_is_rejected()
    {
        var der = Certificate("pck-leaf");
        var e = Assert.Throws<DcapFormatException>(() => DcapCertificate.Parse(HugeOuterLength(der)));
        Assert.Contains("certificate", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<DcapFormatException>(() => DcapCertificate.Parse([.. der, 0]));
        Assert.Contains("trailing", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Crls() => new() { { Tdx, "pck_crl.der" }, { Tdx, "root_ca_crl.der" }, { SgxV3, "pck_crl.der" } };

    [Theory]
    [MemberData(nameof(Crls))]
    public void Every_truncation_of_a_crl_is_rejected(string id, string file)
    {
        var der = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), file));
        _ = CertificateRevocationList.Parse(der);
        Run(der, length => CertificateRevocationList.Parse(der.AsSpan(0, length)), completeFrom: der.Length, "CRL");
    }

    [Theory]
    [MemberData(nameof(Crls))]
    public void Bit_flips_of_a_crl_parse_or_are_rejected(string id, string file)
    {
        var der = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), file));
        RunFlips(der, bytes => CertificateRevocationList.Parse(bytes), allBitsUpTo: 400, bits: 8, "CRL");
    }

    [Fact]
    public void Crl_with_a_huge_declared_length_or_two_pem_blocks_is_rejected()
    {
        var der = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(Tdx), "pck_crl.der"));
        Assert.Contains("CRL", Assert.Throws<DcapFormatException>(() => CertificateRevocationList.Parse(HugeOuterLength(der))).Message, StringComparison.Ordinal);
        var block = "-----BEGIN X509 CRL-----\n" + Convert.ToBase64String(der, Base64FormattingOptions.InsertLineBreaks) + "\n-----END X509 CRL-----\n";
        Assert.Equal(44, CertificateRevocationList.Parse(Encoding.ASCII.GetBytes(block)).RevokedSerials.Count);
        Assert.Contains("2 CRL blocks", Assert.Throws<DcapFormatException>(() => CertificateRevocationList.Parse(Encoding.ASCII.GetBytes(block + block))).Message, StringComparison.Ordinal);
        Assert.Throws<DcapFormatException>(() => CertificateRevocationList.Parse(Encoding.ASCII.GetBytes(block.Replace("-----END", "-----XND", StringComparison.Ordinal))));
    }

    public static TheoryData<string> TcbInfos() => [Td15, SgxV2, SgxV3];

    [Theory]
    [MemberData(nameof(TcbInfos))]
    public void Truncated_tcb_info_is_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "tcb_info.json"));
        _ = TcbInfo.Parse(json);
        Run(json, length => TcbInfo.Parse(json.AsMemory(0, length)), completeFrom: LastBrace(json), "TCB Info");
    }

    [Theory]
    [MemberData(nameof(TcbInfos))]
    public void Bit_flips_of_tcb_info_parse_or_are_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "tcb_info.json"));
        RunFlips(json, bytes => TcbInfo.Parse(bytes), allBitsUpTo: 300, bits: AsciiBits, "TCB Info");
    }

    public static TheoryData<string> QeIdentities() => [Tdx, SgxV3];

    [Theory]
    [MemberData(nameof(QeIdentities))]
    public void Truncated_qe_identity_is_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "qe_identity.json"));
        _ = EnclaveIdentity.Parse(json);
        Run(json, length => EnclaveIdentity.Parse(json.AsMemory(0, length)), completeFrom: LastBrace(json), "QE Identity");
    }

    [Theory]
    [MemberData(nameof(QeIdentities))]
    public void Bit_flips_of_qe_identity_parse_or_are_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "qe_identity.json"));
        RunFlips(json, bytes => EnclaveIdentity.Parse(bytes), allBitsUpTo: json.Length, bits: AsciiBits, "QE Identity");
    }

    [Theory]
    [MemberData(nameof(QeIdentities))]
    public void Truncated_dcap_qvl_collateral_json_is_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "collateral.dcap-qvl.json"));
        _ = QuoteCollateral.FromDcapQvlJson(json, "collateral JSON");
        Run(json, length => QuoteCollateral.FromDcapQvlJson(json.AsSpan(0, length), "collateral JSON"), completeFrom: LastBrace(json), "collateral JSON");
    }

    [Theory]
    [MemberData(nameof(QeIdentities))]
    public void Bit_flips_of_dcap_qvl_collateral_json_parse_or_are_rejected(string id)
    {
        var json = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "collateral.dcap-qvl.json"));
        RunFlips(json, bytes => QuoteCollateral.FromDcapQvlJson(bytes, "collateral JSON"), allBitsUpTo: 200, bits: AsciiBits, "collateral JSON");
    }

    [Fact]
    public void Out_of_range_tcb_info_fields_are_rejected_by_name()
    {
        var tdx = File.ReadAllText(Path.Combine(Vectors.DcapCase(Td15), "tcb_info.json"));
        var v2 = File.ReadAllText(Path.Combine(Vectors.DcapCase(SgxV2), "tcb_info.json"));
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"pcesvn\":\\d+", "\"pcesvn\":65536"), "pcesvn");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"svn\":\\d+", "\"svn\":256"), "svn");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"svn\":\\d+", "\"svn\":-1"), "svn");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"isvsvn\":\\d+", "\"isvsvn\":4294967296"), "isvsvn");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"version\":3", "\"version\":99999999999999999999999"), "version");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"version\":3", "\"version\":4"), "version");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"tcbEvaluationDataNumber\":\\d+", "\"tcbEvaluationDataNumber\":4294967296"), "tcbEvaluationDataNumber");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"fmspc\":\"[0-9A-Fa-f]+\"", "\"fmspc\":\"90C06F00000000\""), "fmspc");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"mrsigner\":\"0+\"", "\"mrsigner\":\"00\""), "mrsigner");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"signature\":\"[0-9a-fA-F]+\"", "\"signature\":\"" + new string('a', 130) + "\""), "signature");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"signature\":\"[0-9a-fA-F]+\"", "\"signature\":\"" + new string('a', 1 << 20) + "\""), "signature");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"tcbLevels\":\\[\\{\"tcb\":\\{\"sgxtcbcomponents\"", "\"tcbLevels\":[],\"x\":[{\"tcb\":{\"sgxtcbcomponents\""), "tcbLevels");
        AssertTcbInfoRejected(ReplaceFirst(tdx, "\"tcbDate\":\"[^\"]+\"", "\"tcbDate\":\"yesterday\""), "tcbDate");
        AssertTcbInfoRejected(ReplaceFirst(v2, "\"sgxtcbcomp16svn\":\\d+", "\"sgxtcbcomp16svn\":256"), "sgxtcbcomp16svn");
        AssertTcbInfoRejected(ReplaceFirst(v2, "\"tcbType\":0", "\"tcbType\":1"), "tcbType");
    }

    [Fact]
    public void Out_of_range_qe_identity_fields_are_rejected_by_name()
    {
        var qe = File.ReadAllText(Path.Combine(Vectors.DcapCase(Tdx), "qe_identity.json"));
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"isvsvn\":\\d+", "\"isvsvn\":65536"), "isvsvn");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"isvprodid\":\\d+", "\"isvprodid\":99999999999999999999"), "isvprodid");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"mrsigner\":\"[0-9A-F]+\"", "\"mrsigner\":\"" + new string('F', 66) + "\""), "mrsigner");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"miscselect\":\"[0-9A-F]+\"", "\"miscselect\":\"0000000\""), "miscselect");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"tcbEvaluationDataNumber\":\\d+", "\"tcbEvaluationDataNumber\":-1"), "tcbEvaluationDataNumber");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"id\":\"TD_QE\"", "\"id\":\"XX\""), "id");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"version\":2", "\"version\":1"), "version");
        AssertQeIdentityRejected(ReplaceFirst(qe, "\"signature\":\"[0-9a-fA-F]+\"", "\"signature\":12"), "signature");
    }

    [Fact]
    public void Malformed_dcap_qvl_collateral_fields_are_rejected_by_name()
    {
        var json = File.ReadAllText(Path.Combine(Vectors.DcapCase(Tdx), "collateral.dcap-qvl.json"));
        AssertCollateralRejected(ReplaceFirst(json, "\"root_ca_crl\": *\"[0-9a-fA-F]", "\"root_ca_crl\": \""), "root_ca_crl");
        AssertCollateralRejected(ReplaceFirst(json, "\"pck_crl\": *\"", "\"pck_crl\": \"zz"), "pck_crl");
        AssertCollateralRejected(ReplaceFirst(json, "\"tcb_info_signature\"", "\"tcb_info_signaturex\""), "tcb_info_signature");
        AssertCollateralRejected(ReplaceFirst(json, "\"qe_identity\": *\"", "\"qe_identity\": 1, \"unused\": \""), "qe_identity");
        AssertCollateralRejected("[]", "pck_crl_issuer_chain");
    }

    [Fact]
    public void Invalid_utf8_in_json_strings_is_a_format_error()
    {
        // 0xC3 alone (a UTF-8 lead byte without its continuation) as the first character of a string value that
        // follows <before>: well-formed JSON tokens, invalid text.
        static byte[] Corrupt(string path, string before)
        {
            var bytes = File.ReadAllBytes(path);
            var at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(before));
            Assert.True(at >= 0, before);
            bytes[at + before.Length] = 0xC3;
            return bytes;
        }

        var folder = Vectors.DcapCase(Tdx);
        var tcbInfo = Corrupt(Path.Combine(folder, "tcb_info.json"), "\"id\":\"");
        var tcbSignature = Corrupt(Path.Combine(folder, "tcb_info.json"), "\"signature\":\"");
        var qeIdentity = Corrupt(Path.Combine(folder, "qe_identity.json"), "\"id\":\"");
        var collateralJson = Corrupt(Path.Combine(folder, "collateral.dcap-qvl.json"), "\"pck_crl\": \"");

        Assert.Contains("TCB Info", Assert.Throws<DcapFormatException>(() => TcbInfo.Parse(tcbInfo)).Message, StringComparison.Ordinal);
        Assert.Contains("TCB Info", Assert.Throws<DcapFormatException>(() => TcbInfo.Parse(tcbSignature)).Message, StringComparison.Ordinal);
        Assert.Contains("QE Identity", Assert.Throws<DcapFormatException>(() => EnclaveIdentity.Parse(qeIdentity)).Message, StringComparison.Ordinal);
        Assert.Throws<DcapFormatException>(() => QuoteCollateral.FromDcapQvlJson(collateralJson));

        // Pure ASCII can do the same: a JSON escape of a lone surrogate.
        var surrogate = File.ReadAllText(Path.Combine(folder, "qe_identity.json")).Replace("\"id\":\"TD_QE\"", "\"id\":\"\\uD800\"", StringComparison.Ordinal);
        Assert.Contains("\\uD800", surrogate, StringComparison.Ordinal);
        Assert.Throws<DcapFormatException>(() => EnclaveIdentity.Parse(Encoding.ASCII.GetBytes(surrogate)));

        var c = VectorCase.Load(Tdx);
        Assert.Equal(QvlStatus.STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT,
            QuoteVerifier.VerifyCold(c.Quote, c.Collateral with { TcbInfo = tcbInfo }, TrustAnchor.IntelSgxRootCa, c.Time).Status);
        Assert.Equal(QvlStatus.STATUS_SGX_ENCLAVE_IDENTITY_UNSUPPORTED_FORMAT,
            QuoteVerifier.VerifyCold(c.Quote, c.Collateral with { QeIdentity = qeIdentity }, TrustAnchor.IntelSgxRootCa, c.Time).Status);
    }

    private static void AssertTcbInfoRejected(string json, string field)
    {
        var e = Assert.Throws<DcapFormatException>(() => TcbInfo.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("TCB Info", e.Message, StringComparison.Ordinal);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    private static void AssertQeIdentityRejected(string json, string field)
    {
        var e = Assert.Throws<DcapFormatException>(() => EnclaveIdentity.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Contains("QE Identity", e.Message, StringComparison.Ordinal);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    private static void AssertCollateralRejected(string json, string field)
    {
        var e = Assert.Throws<DcapFormatException>(() => QuoteCollateral.FromDcapQvlJson(Encoding.UTF8.GetBytes(json), "my.json"));
        Assert.Contains("my.json", e.Message, StringComparison.Ordinal);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    private static string ReplaceFirst(string text, string pattern, string replacement)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5));
        Assert.Matches(regex, text);
        return regex.Replace(text, replacement.Replace("$", "$$", StringComparison.Ordinal), 1);
    }

    /// <summary>
    /// Parses every prefix (all lengths up to 400, then a stride); prefixes shorter than <paramref name="completeFrom"/>
    /// must be rejected with <see cref="DcapFormatException"/>, longer ones may parse.
    /// </summary>
    private static void Run(byte[] input, Action<int> parsePrefix, int completeFrom, params string[] messageMentions)
    {
        var failures = new List<string>();
        var stride = Math.Max(1, input.Length / 1500);
        for (var length = 0; length <= input.Length; length += length < 400 ? 1 : stride)
        {
            try
            {
                parsePrefix(length);
                if (length < completeFrom)
                {
                    failures.Add($"length {length}: a truncated input parsed");
                }
            }
            catch (DcapFormatException e)
            {
                CheckMessage(e, messageMentions, $"length {length}", failures);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"length {length}: {e.GetType().FullName}: {e.Message} {Origin(e)}");
            }
        }

        AssertNoFailures(failures);
    }

    /// <summary>
    /// Flips each of the low <paramref name="bits"/> bits of the first <paramref name="allBitsUpTo"/> bytes and one
    /// rotating bit of each later byte.
    /// </summary>
    private static void RunFlips(byte[] input, Action<byte[]> parse, int allBitsUpTo, int bits, params string[] messageMentions)
    {
        var failures = new List<string>();
        var flipped = (byte[])input.Clone();
        parse(flipped);
        for (var i = 0; i < flipped.Length; i++)
        {
            for (var bit = 0; bit < bits; bit++)
            {
                if (i >= allBitsUpTo && bit != i % bits)
                {
                    continue;
                }

                flipped[i] ^= (byte)(1 << bit);
                try
                {
                    parse(flipped);
                }
                catch (DcapFormatException e)
                {
                    CheckMessage(e, messageMentions, $"byte {i} bit {bit}", failures);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"byte {i} bit {bit}: {e.GetType().FullName}: {e.Message} {Origin(e)}");
                }

                flipped[i] ^= (byte)(1 << bit);
            }
        }

        AssertNoFailures(failures);
    }

    private static void CheckMessage(DcapFormatException e, string[] mentions, string where, List<string> failures)
    {
        if (!mentions.Any(m => e.Message.Contains(m, StringComparison.Ordinal)))
        {
            failures.Add($"{where}: message does not say what failed to parse ({string.Join("/", mentions)}): {e.Message}");
        }
    }

    private static void AssertNoFailures(List<string> failures) =>
        Assert.True(failures.Count == 0, $"{failures.Count} failures, first: {string.Join(Environment.NewLine, failures.Take(12))}");

    private static int LastBrace(byte[] json) => Array.LastIndexOf(json, (byte)'}') + 1;

    /// <summary>The same DER with the outer SEQUENCE length replaced by a 4-byte length of 0x7FFFFFFF.</summary>
    private static byte[] HugeOuterLength(byte[] der)
    {
        Assert.Equal(0x30, der[0]);
        var headerLength = der[1] < 0x80 ? 2 : 2 + (der[1] & 0x7F);
        var huge = new byte[6 + der.Length - headerLength];
        huge[0] = 0x30;
        huge[1] = 0x84;
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(2), 0x7FFFFFFF);
        der.AsSpan(headerLength).CopyTo(huge.AsSpan(6));
        return huge;
    }

    internal static byte[] Certificate(string which) => which switch
    {
        "pck-leaf" => PckChain(Tdx)[0],
        "root" => File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, "intel_sgx_root_ca.der")),
        "platform-ca" => Pem.DecodeCertificates(File.ReadAllBytes(Path.Combine(Vectors.DcapTrust, "intel_sgx_pck_platform_ca.pem")))[0],
        _ => throw new ArgumentOutOfRangeException(nameof(which)),
    };

    /// <summary>The DER certificates of a vector quote's PCK chain, leaf first.</summary>
    internal static IReadOnlyList<byte[]> PckChain(string id)
    {
        var raw = File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "quote.bin"));
        var quote = Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(raw));
        return Pem.DecodeCertificates(quote.SignatureData.CertificationData.Data.Span);
    }

    /// <summary>The innermost product frame of <paramref name="e"/>, to locate the bug.</summary>
    private static string Origin(Exception e) =>
        e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Veritee.", StringComparison.Ordinal) && !l.Contains(".Tests.", StringComparison.Ordinal)) ?? string.Empty;
}
