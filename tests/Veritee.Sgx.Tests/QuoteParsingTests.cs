using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Veritee.TestSupport;

namespace Veritee.Sgx.Tests;

/// <summary>Every real quote of tests/vectors/dcap parses to what its case.json and docs/verification.md §1 say.</summary>
public class QuoteParsingTests
{
    public static TheoryData<string> CaseIds()
    {
        var data = new TheoryData<string>();
        foreach (var id in Vectors.DcapCaseIds())
        {
            data.Add(id);
        }

        return data;
    }

    [Fact]
    public void All_27_vector_cases_are_exercised()
    {
        Assert.Equal(27, CaseIds().Count);
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Quote_parses_with_the_shape_in_case_json(string id)
    {
        var (file, expected) = Load(id);
        var q = expected.GetProperty("quote");
        Assert.Equal(q.GetProperty("size").GetInt32(), file.Length);

        var raw = StripOeHeader(file);
        var quote = Quote.Parse(raw);

        Assert.Equal(q.GetProperty("version").GetInt32(), quote.Header.Version);
        Assert.Equal(Convert.ToUInt32(q.GetProperty("tee_type").GetString(), 16), quote.Header.TeeTypeRaw);
        Assert.Equal(q.GetProperty("body_type").GetInt32(), (int)quote.BodyType);
        Assert.Equal(q.GetProperty("trailing_bytes_after_signature_data").GetInt32(), raw.Length - quote.Length);
        Assert.Equal(q.GetProperty("cert_data_type_inner").GetInt32(), (int)quote.SignatureData.CertificationData.Type);
        var outer = q.GetProperty("cert_data_type_outer");
        Assert.Equal(outer.ValueKind == JsonValueKind.Null ? null : outer.GetInt32(), (int?)quote.SignatureData.OuterCertificationDataType);

        Assert.Equal(QuoteHeader.EcdsaP256, quote.Header.AttestationKeyType);
        Assert.True(quote.Header.QeVendorId.Span.SequenceEqual(QuoteHeader.IntelQeVendorId));
        Assert.Equal(quote.BodyType == QuoteBodyType.SgxReport ? TeeType.Sgx : TeeType.Tdx, quote.TeeType);
        Assert.Equal(64, quote.ReportData.Length);

        // signature_data_len sits right after the signed region and covers everything up to Length.
        var sigLen = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(quote.SignedLength, 4));
        Assert.Equal(quote.SignedLength + 4 + (int)sigLen, quote.Length);
        Assert.Equal(quote.SignedLength, quote.SignedRegion.Length);

        // Bytes after the signature data are ignored: parsing without them gives the same structure.
        var trimmed = Quote.Parse(raw.AsMemory(0, quote.Length));
        Assert.Equal(quote.Length, trimmed.Length);
        Assert.Equal(0, trimmed.Raw.Length - trimmed.Length);
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Signature_data_sits_at_the_offsets_of_dcap_md_1_5(string id)
    {
        var raw = StripOeHeader(Load(id).File);
        var quote = Quote.Parse(raw);
        var sig = quote.SignatureData;
        Assert.Equal(32, sig.QeAuthData.Length);

        // (signed length, quote signature, attestation key, QE report, QE report signature, QE auth data, PEM) per docs/verification.md §1.5.
        var expected = (quote.Header.Version, quote.BodyType) switch
        {
            (3, QuoteBodyType.SgxReport) => (432, 436, 500, 564, 948, 1014, 1052),
            (4, QuoteBodyType.SgxReport) => (432, 436, 500, 570, 954, 1020, 1058),
            (4, QuoteBodyType.TdReport10) => (632, 636, 700, 770, 1154, 1220, 1258),
            (5, QuoteBodyType.TdReport15) => (702, 706, 770, 840, 1224, 1290, 1328),
            _ => throw new InvalidOperationException($"{id}: no offset table for v{quote.Header.Version} {quote.BodyType}"),
        };

        Assert.Equal(expected.Item1, quote.SignedLength);
        Assert.Equal(expected.Item2, OffsetOf(quote, sig.Signature));
        Assert.Equal(expected.Item3, OffsetOf(quote, sig.AttestationKey));
        Assert.Equal(expected.Item4, OffsetOf(quote, sig.QeReport.Raw));
        Assert.Equal(expected.Item5, OffsetOf(quote, sig.QeReportSignature));
        Assert.Equal(expected.Item6, OffsetOf(quote, sig.QeAuthData));
        Assert.Equal(expected.Item7, sig.CertificationData.Offset);
        Assert.Equal(expected.Item7, OffsetOf(quote, sig.CertificationData.Data));

        // The certification data type (5) is the u16 six bytes before the data; for v3 with auth size 32 that is 1046.
        Assert.Equal(5, BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(expected.Item7 - 6, 2)));
        if (quote.Header.Version == 3)
        {
            Assert.Equal(1046, expected.Item7 - 6);
        }
        else
        {
            // The outer type-6 blob follows the attestation key.
            Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(expected.Item3 + 64, 2)));
        }

        Assert.Equal(quote.Length, sig.CertificationData.Offset + sig.CertificationData.Data.Length);
        var pem = Encoding.ASCII.GetString(sig.CertificationData.Data.Span);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", pem, StringComparison.Ordinal);
        Assert.Equal(3, CountOf(pem, "-----BEGIN CERTIFICATE-----"));
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Pck_extension_of_the_quote_leaf_matches_case_json(string id)
    {
        var (file, expected) = Load(id);
        var quote = Quote.Parse(StripOeHeader(file));
        using var leaf = PckLeaf(quote);
        var extension = leaf.Extensions[PckCertificateExtension.Oid];
        Assert.NotNull(extension);
        Assert.False(extension.Critical);

        var pck = PckCertificateExtension.Parse(extension.RawData);
        Assert.Equal(16, pck.Ppid.Length);
        Assert.Equal(16, pck.CpuSvn.Length);
        Assert.Equal(16, pck.TcbComponentSvns.Length);

        // Every real PCK certificate seen has CPUSVN equal to the 16 component SVNs (docs/verification.md §2.2).
        Assert.Equal(pck.TcbComponentSvns, pck.CpuSvn);

        var isPlatform = leaf.Issuer.Contains("Intel SGX PCK Platform CA", StringComparison.Ordinal);
        Assert.True(isPlatform || leaf.Issuer.Contains("Intel SGX PCK Processor CA", StringComparison.Ordinal), leaf.Issuer);
        Assert.Equal(isPlatform, pck.PlatformInstanceId is not null);
        Assert.Equal(isPlatform, pck.Configuration is not null);
        Assert.Equal(isPlatform ? SgxType.Scalable : SgxType.Standard, pck.SgxType);

        var p = expected.GetProperty("pck");
        var validity = p.GetProperty("validity");
        Assert.Equal(DateTimeOffset.Parse(validity[0].GetString()!, CultureInfo.InvariantCulture), new DateTimeOffset(leaf.NotBefore.ToUniversalTime()));
        Assert.Equal(DateTimeOffset.Parse(validity[1].GetString()!, CultureInfo.InvariantCulture), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        if (p.GetProperty("fmspc").ValueKind == JsonValueKind.Null)
        {
            return; // Some negative cases record only the validity.
        }

        Assert.Equal(p.GetProperty("fmspc").GetString(), Hex.Lower(pck.Fmspc));
        Assert.Equal(p.GetProperty("pceid").GetString(), Hex.Lower(pck.PceId));
        Assert.Equal(p.GetProperty("pcesvn").GetInt32(), pck.PceSvn);
        Assert.Equal(p.GetProperty("sgx_tcb_comp_svns").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray(), pck.TcbComponentSvns);
        Assert.Equal(p.GetProperty("ca").GetString(), isPlatform ? "platform" : "processor");
    }

    [Fact]
    public void Oe_evidence_matches_the_decoded_azure_sample_of_dcap_md_1_8()
    {
        var file = File.ReadAllBytes(Path.Combine(Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"), "quote.bin"));
        Assert.True(OpenEnclaveReport.HasHeader(file));
        Assert.Equal(4584UL, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(8)));
        var inner = OpenEnclaveReport.Unwrap(file);
        Assert.Equal(4584, inner.Length);
        Assert.True(inner.Span.SequenceEqual(file.AsSpan(16)));

        // A raw quote is left alone; wrapping it again gives the original bytes back.
        Assert.True(inner.Equals(OpenEnclaveReport.UnwrapIfPresent(inner)));
        Assert.Equal(file, OpenEnclaveReport.Wrap(inner.Span));

        var quote = Quote.Parse(inner);
        Assert.Equal(5, quote.Header.QeSvn);
        Assert.Equal(10, quote.Header.PceSvn);
        Assert.Equal("589abb28a895e489481df865b219f3e100000000", Hex.Lower(quote.Header.UserData.Span));
        var report = quote.SgxReport;
        Assert.StartsWith("f78abec1", Hex.Lower(report.MrEnclave.Span), StringComparison.Ordinal);
        Assert.EndsWith("6e57", Hex.Lower(report.MrEnclave.Span), StringComparison.Ordinal);
        Assert.StartsWith("62ba6bca", Hex.Lower(report.MrSigner.Span), StringComparison.Ordinal);
        Assert.EndsWith("f9f2", Hex.Lower(report.MrSigner.Span), StringComparison.Ordinal);
        Assert.Equal(1, report.IsvProdId);
        Assert.Equal(1, report.IsvSvn);
        Assert.Equal(0x07UL, report.Flags);
        Assert.Equal(0x07UL, report.Xfrm);
        Assert.True(report.IsDebuggable);
        Assert.Equal("11110305ff8006000000000000000000", Hex.Lower(report.CpuSvn.Span));
        Assert.True(report.ReportData.Span[32..].IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(4148u, BinaryPrimitives.ReadUInt32LittleEndian(inner.Span[432..]));
        Assert.Equal(3532, quote.SignatureData.CertificationData.Data.Length);
        Assert.Equal(0, quote.SignatureData.CertificationData.Data.Span[^1]);
    }

    [Fact]
    public void Report_cpusvn_is_not_the_pck_tcb_in_the_processor_ca_confsw_case()
    {
        var quote = Quote.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07"), "quote.bin")));
        using var leaf = PckLeaf(quote);
        var pck = PckCertificateExtension.Parse(leaf.Extensions[PckCertificateExtension.Oid]!.RawData);
        Assert.StartsWith("0b0b1a18ffff04", Hex.Lower(quote.SgxReport.CpuSvn.Span), StringComparison.Ordinal);
        Assert.StartsWith("0b0b0202ff01", Hex.Lower(pck.TcbComponentSvns), StringComparison.Ordinal);
    }

    [Fact]
    public void Td15_report_exposes_tee_tcb_svn_and_svn2_of_the_relaunch_case()
    {
        var quote = Quote.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapCase("tdx-v5-td-relaunch-advised-2025-03"), "quote.bin")));
        Assert.Equal(QuoteBodyType.TdReport15, quote.BodyType);
        var td = quote.TdReport;
        Assert.True(td.IsTdx15);
        Assert.Equal(TdReportBody.Size15, td.Raw.Length);
        Assert.Equal("040103", Hex.Lower(td.TeeTcbSvn.Span[..3]));
        Assert.Equal("070103", Hex.Lower(td.TeeTcbSvn2.Span[..3]));
        Assert.Equal(48, td.MrServiceTd.Length);

        // The TD report starts after the 6-byte v5 body type/size, and the report data is its last 64 bytes of 1.0.
        Assert.Equal(54, OffsetOf(quote, quote.Body));
        Assert.Equal(54 + 520, OffsetOf(quote, quote.ReportData));
        Assert.Throws<InvalidOperationException>(() => quote.SgxReport);
    }

    [Fact]
    public void Td10_report_has_no_svn2_and_rejects_the_sgx_view()
    {
        var quote = Quote.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapCase("tdx-v4-uptodate-2025-07"), "quote.bin")));
        Assert.Equal(QuoteBodyType.TdReport10, quote.BodyType);
        Assert.False(quote.TdReport.IsTdx15);
        Assert.True(quote.TdReport.TeeTcbSvn2.IsEmpty);
        Assert.Equal(48, OffsetOf(quote, quote.Body));
        Assert.Throws<InvalidOperationException>(() => quote.SgxReport);

        var sgx = Quote.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapCase("sgx-v3-outofdate-2025-05"), "quote.bin")));
        Assert.Throws<InvalidOperationException>(() => sgx.TdReport);
        Assert.Equal(48 + 320, OffsetOf(sgx, sgx.ReportData));
    }

    internal static (byte[] File, JsonElement Case) Load(string id)
    {
        var folder = Vectors.DcapCase(id);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "case.json")));
        return (File.ReadAllBytes(Path.Combine(folder, "quote.bin")), doc.RootElement.Clone());
    }

    internal static byte[] StripOeHeader(byte[] file) =>
        OpenEnclaveReport.HasHeader(file) ? OpenEnclaveReport.Unwrap(file).ToArray() : file;

    /// <summary>The PCK leaf of the quote's certification data (the certificate whose CN is "Intel SGX PCK Certificate").</summary>
    internal static X509Certificate2 PckLeaf(Quote quote)
    {
        var pem = Encoding.ASCII.GetString(quote.SignatureData.CertificationData.Data.Span).TrimEnd('\0');
        var certs = new X509Certificate2Collection();
        certs.ImportFromPem(pem);
        Assert.Equal(3, certs.Count);
        X509Certificate2? leaf = null;
        foreach (var cert in certs)
        {
            if (leaf is null && cert.Subject.Contains("CN=Intel SGX PCK Certificate", StringComparison.Ordinal))
            {
                leaf = cert;
            }
            else
            {
                cert.Dispose();
            }
        }

        return leaf ?? throw new InvalidOperationException("no PCK leaf in the certification data");
    }

    private static int OffsetOf(Quote quote, ReadOnlyMemory<byte> part)
    {
        Assert.True(MemoryMarshal.TryGetArray(quote.Raw, out var whole));
        Assert.True(MemoryMarshal.TryGetArray(part, out var segment));
        Assert.Same(whole.Array, segment.Array);
        return segment.Offset - whole.Offset;
    }

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
