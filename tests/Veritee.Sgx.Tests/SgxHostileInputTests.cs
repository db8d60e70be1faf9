using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Runtime.InteropServices;
using Veritee.TestSupport;

namespace Veritee.Sgx.Tests;

/// <summary>
/// Truncated, bit-flipped and oversized inputs for the SGX parsers (Quote.Parse, OpenEnclaveReport.Unwrap,
/// PckCertificateExtension.Parse): each input either parses or fails with exactly <see cref="SgxFormatException"/>
/// naming the field and the offset. Any other exception type is a bug.
/// </summary>
public class SgxHostileInputTests
{
    private const string SgxV3 = "sgx-v3-processorca-confsw-2025-07";
    private const string OeCase = "sgx-v3-oe-envelope-legacy-root-2022-05";
    private const string TdxV4 = "tdx-v4-uptodate-2025-07";
    private const string TdxV5 = "tdx-v5-td15-uptodate-2025-06";

    public static TheoryData<string> FuzzedQuotes() => [SgxV3, OeCase, TdxV4, TdxV5, "tdx-v4-module1-uptodate-2025-10"];

    [Theory]
    [MemberData(nameof(FuzzedQuotes))]
    public void Every_truncation_of_a_quote_parses_only_when_the_signature_data_is_complete(string id)
    {
        var raw = QuoteParsingTests.StripOeHeader(Read(id));
        var full = Quote.Parse(raw);
        var failures = new List<string>();
        for (var length = 0; length <= raw.Length; length++)
        {
            var input = raw.AsMemory(0, length);
            try
            {
                var quote = Quote.Parse(input);
                if (length < full.Length || quote.Length != full.Length)
                {
                    failures.Add($"length {length}: parsed (Length {quote.Length}) but the signature data needs {full.Length} bytes");
                }
            }
            catch (SgxFormatException e)
            {
                if (length >= full.Length)
                {
                    failures.Add($"length {length}: rejected a complete quote: {e.Message}");
                }

                CheckNamed(e, length, failures);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"length {length}: {e.GetType().Name}: {e.Message} {Origin(e)}");
            }
        }

        AssertNoFailures(failures);
    }

    [Theory]
    [MemberData(nameof(FuzzedQuotes))]
    public void Bit_flips_in_a_quote_parse_or_fail_with_a_named_field(string id)
    {
        var raw = QuoteParsingTests.StripOeHeader(Read(id));
        var original = Quote.Parse(raw);
        var structural = StructuralOffsets(original);
        var failures = new List<string>();
        var flipped = (byte[])raw.Clone();
        for (var i = 0; i < raw.Length; i++)
        {
            // Every bit of the fixed-layout part and of the length fields; one rotating bit per byte of the PEM/padding.
            var allBits = i < 1400 || structural.Contains(i);
            for (var bit = 0; bit < 8; bit++)
            {
                if (!allBits && bit != i % 8)
                {
                    continue;
                }

                flipped[i] ^= (byte)(1 << bit);
                try
                {
                    var quote = Quote.Parse(flipped);
                    if (quote.Length > flipped.Length)
                    {
                        failures.Add($"byte {i} bit {bit}: Length {quote.Length} beyond the input");
                    }

                    if (!structural.Contains(i) && (quote.Length != original.Length || quote.BodyType != original.BodyType))
                    {
                        failures.Add($"byte {i} bit {bit}: a non-structural byte changed the parsed shape");
                    }
                }
                catch (SgxFormatException e)
                {
                    if (!structural.Contains(i))
                    {
                        failures.Add($"byte {i} bit {bit}: a flip outside every length/type field was rejected: {e.Message}");
                    }

                    CheckNamed(e, flipped.Length, failures);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"byte {i} bit {bit}: {e.GetType().Name}: {e.Message} {Origin(e)}");
                }

                flipped[i] ^= (byte)(1 << bit);
            }
        }

        AssertNoFailures(failures);
    }

    [Fact]
    public void Oversized_v3_lengths_are_rejected_naming_the_field()
    {
        var raw = Read(SgxV3);
        AssertRejected(raw, 432, 0xFFFFFFFF, "signature_data_len", 432);
        AssertRejected(raw, 432, 0x80000000, "signature_data_len", 432);
        AssertRejected(raw, 1048, int.MaxValue, "signature_data.certification_data.size", 1048);
        AssertRejected(raw, 1048, uint.MaxValue, "signature_data.certification_data.size", 1048);

        var auth = (byte[])raw.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(auth.AsSpan(1012), ushort.MaxValue);
        var e = Assert.Throws<SgxFormatException>(() => Quote.Parse(auth));
        Assert.Equal(("signature_data.qe_auth_data", 1014), (e.Field, e.Offset));
        Assert.Contains("65535", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_v4_and_v5_lengths_are_rejected_naming_the_field()
    {
        var v4 = Read(TdxV4);
        AssertRejected(v4, 632, uint.MaxValue, "signature_data_len", 632);
        AssertRejected(v4, 766, int.MaxValue, "signature_data.certification_data.size", 766);
        AssertRejected(v4, 1254, int.MaxValue, "qe_report_certification_data.certification_data.size", 1254);
        AssertRejected(v4, 1254, uint.MaxValue, "qe_report_certification_data.certification_data.size", 1254);

        var v5 = Read(TdxV5);
        AssertRejected(v5, 50, uint.MaxValue, "body.size", 50);
        AssertRejected(v5, 50, 584, "body.size", 50);
        AssertRejected(v5, 702, uint.MaxValue, "signature_data_len", 702);
        AssertRejected(v5, 836, int.MaxValue, "signature_data.certification_data.size", 836);
    }

    [Fact]
    public void Version_key_type_tee_and_body_type_are_checked()
    {
        var v3 = Read(SgxV3);
        AssertRejectedU16(v3, 0, 2, "header.version", 0);
        AssertRejectedU16(v3, 0, 6, "header.version", 0);
        AssertRejectedU16(v3, 2, 3, "header.att_key_type", 2);
        AssertRejected(v3, 4, 0x81, "header.tee_type", 4);

        var v4 = Read(TdxV4);
        AssertRejected(v4, 4, 0x80, "header.tee_type", 4);

        var v5 = Read(TdxV5);
        AssertRejectedU16(v5, 48, 1, "body.type", 48);
        AssertRejectedU16(v5, 48, 4, "body.type", 48);
        AssertRejectedU16(v5, 48, 0, "body.type", 48);
    }

    [Fact]
    public void Wrong_certification_data_types_are_rejected()
    {
        var v3 = Read(SgxV3);
        AssertRejectedU16(v3, 1046, 6, "signature_data.certification_data.type", 1046);
        AssertRejectedU16(v3, 1046, 0, "signature_data.certification_data.type", 1046);

        var v4 = Read(TdxV4);
        AssertRejectedU16(v4, 764, 5, "signature_data.certification_data.type", 764);
        AssertRejectedU16(v4, 1252, 6, "qe_report_certification_data.certification_data.type", 1252);
        AssertRejectedU16(v4, 1252, 7, "qe_report_certification_data.certification_data.type", 1252);
    }

    [Fact]
    public void Oe_header_with_huge_or_short_report_size_is_rejected_naming_the_field()
    {
        var file = Read(OeCase);
        foreach (var size in new[] { ulong.MaxValue, (1UL << 32) | 16, (ulong)int.MaxValue + 1, (ulong)int.MaxValue, 4585UL })
        {
            var bad = (byte[])file.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(8), size);
            var e = Assert.Throws<SgxFormatException>(() => OpenEnclaveReport.Unwrap(bad));
            Assert.Equal(("oe_report_header.report_size", 8), (e.Field, e.Offset));
            Assert.Contains(size.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
            AssertNamed(e, bad.Length);
        }

        var version = (byte[])file.Clone();
        version[0] = 2;
        Assert.Equal("oe_report_header.version", Assert.Throws<SgxFormatException>(() => OpenEnclaveReport.Unwrap(version)).Field);
        Assert.False(OpenEnclaveReport.HasHeader(version));

        var local = (byte[])file.Clone();
        local[4] = 1;
        Assert.Equal("oe_report_header.report_type", Assert.Throws<SgxFormatException>(() => OpenEnclaveReport.Unwrap(local)).Field);
        Assert.False(OpenEnclaveReport.HasHeader(local));
    }

    [Fact]
    public void Every_truncation_of_oe_evidence_is_rejected_and_bit_flips_parse_or_fail_named()
    {
        var file = Read(OeCase);
        var failures = new List<string>();
        for (var length = 0; length < file.Length; length++)
        {
            var input = file.AsMemory(0, length);
            try
            {
                _ = OpenEnclaveReport.Unwrap(input);
                failures.Add($"length {length}: a truncated OE report unwrapped");
            }
            catch (SgxFormatException e)
            {
                CheckNamed(e, length, failures);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"length {length}: {e.GetType().Name}: {e.Message} {Origin(e)}");
            }
        }

        var flipped = (byte[])file.Clone();
        for (var i = 0; i < OpenEnclaveReport.HeaderSize; i++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                flipped[i] ^= (byte)(1 << bit);
                try
                {
                    var quote = OpenEnclaveReport.Unwrap(flipped);
                    if (quote.Length != (long)BinaryPrimitives.ReadUInt64LittleEndian(flipped.AsSpan(8)))
                    {
                        failures.Add($"byte {i} bit {bit}: returned {quote.Length} bytes, header declares another size");
                    }
                }
                catch (SgxFormatException e)
                {
                    CheckNamed(e, flipped.Length, failures);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"byte {i} bit {bit}: {e.GetType().Name}: {e.Message} {Origin(e)}");
                }

                flipped[i] ^= (byte)(1 << bit);
            }
        }

        AssertNoFailures(failures);
    }

    public static TheoryData<string> PckCases() => [SgxV3, TdxV4];

    [Theory]
    [MemberData(nameof(PckCases))]
    public void Every_truncation_of_a_pck_extension_is_rejected(string id)
    {
        var der = PckExtensionDer(id);
        _ = PckCertificateExtension.Parse(der);
        var failures = new List<string>();
        for (var length = 0; length < der.Length; length++)
        {
            try
            {
                _ = PckCertificateExtension.Parse(der.AsMemory(0, length));
                failures.Add($"length {length}: a truncated extension parsed");
            }
            catch (SgxFormatException e)
            {
                CheckNamed(e, length, failures);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"length {length}: {e.GetType().Name}: {e.Message} {Origin(e)}");
            }
        }

        AssertNoFailures(failures);
    }

    [Theory]
    [MemberData(nameof(PckCases))]
    public void Every_bit_flip_of_a_pck_extension_parses_or_fails_named(string id)
    {
        var der = PckExtensionDer(id);
        var original = PckCertificateExtension.Parse(der);
        var failures = new List<string>();
        for (var i = 0; i < der.Length; i++)
        {
            for (var bit = 0; bit < 8; bit++)
            {
                der[i] ^= (byte)(1 << bit);
                try
                {
                    var parsed = PckCertificateExtension.Parse(der);
                    if (parsed.Ppid.Length != 16 || parsed.Fmspc.Length != 6 || parsed.PceId.Length != 2 || parsed.CpuSvn.Length != 16 ||
                        !Enum.IsDefined(parsed.SgxType))
                    {
                        failures.Add($"byte {i} bit {bit}: parsed with out-of-shape values");
                    }
                }
                catch (SgxFormatException e)
                {
                    CheckNamed(e, der.Length, failures);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"byte {i} bit {bit}: {e.GetType().Name}: {e.Message} {Origin(e)}");
                }

                der[i] ^= (byte)(1 << bit);
            }
        }

        Assert.Equal(original.Fmspc, PckCertificateExtension.Parse(der).Fmspc);
        AssertNoFailures(failures);
    }

    [Fact]
    public void Pck_extension_with_a_huge_declared_length_is_rejected()
    {
        var der = PckExtensionDer(SgxV3);
        Assert.Equal(0x30, der[0]);
        Assert.Equal(0x82, der[1]);
        var huge = new byte[der.Length + 2];
        huge[0] = 0x30;
        huge[1] = 0x84;
        BinaryPrimitives.WriteUInt32BigEndian(huge.AsSpan(2), 0x7FFFFFFF);
        der.AsSpan(4).CopyTo(huge.AsSpan(6));
        var e = Assert.Throws<SgxFormatException>(() => PckCertificateExtension.Parse(huge));
        Assert.Equal("sgx_extension", e.Field);
        AssertNamed(e, huge.Length);
    }

    [Fact]
    public void Pck_extension_entries_are_checked_by_name()
    {
        var ok = PckCertificateExtension.Parse(PckExtensionDer(SgxV3));
        Assert.Equal(ok.Fmspc, PckCertificateExtension.Parse(Build(ok)).Fmspc);

        AssertExtensionRejected(Build(ok with { Ppid = new byte[17] }), "sgx_extension.PPID");
        AssertExtensionRejected(Build(ok with { Fmspc = new byte[5] }), "sgx_extension.FMSPC");
        AssertExtensionRejected(Build(ok with { PceId = new byte[3] }), "sgx_extension.PCE-ID");
        AssertExtensionRejected(Build(ok, componentOverride: 256), "sgx_extension.TCB component 1");
        AssertExtensionRejected(Build(ok, componentOverride: -1), "sgx_extension.TCB component 1");
        AssertExtensionRejected(Build(ok, pceSvnOverride: 65536), "sgx_extension.PCESVN");
        AssertExtensionRejected(Build(ok, dropTcbEntry: true), "sgx_extension.TCB");
        AssertExtensionRejected(Build(ok, duplicateFmspc: true), "sgx_extension.FMSPC");
        AssertExtensionRejected(Build(ok, sgxType: 7), "sgx_extension.SGX Type");
    }

    private static void AssertExtensionRejected(byte[] der, string field)
    {
        var e = Assert.Throws<SgxFormatException>(() => PckCertificateExtension.Parse(der));
        Assert.Equal(field, e.Field);
        AssertNamed(e, der.Length);
    }

    /// <summary>Re-encodes a Processor-CA (5-entry) extension with optional defects.</summary>
    private static byte[] Build(PckCertificateExtension x, int? componentOverride = null, int? pceSvnOverride = null, bool dropTcbEntry = false, bool duplicateFmspc = false, int? sgxType = null)
    {
        const string Oid = PckCertificateExtension.Oid;
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            void Octets(string oid, byte[] value)
            {
                using (w.PushSequence())
                {
                    w.WriteObjectIdentifier(oid);
                    w.WriteOctetString(value);
                }
            }

            Octets(Oid + ".1", x.Ppid);
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(Oid + ".2");
                using (w.PushSequence())
                {
                    for (var i = 0; i < 16; i++)
                    {
                        using (w.PushSequence())
                        {
                            w.WriteObjectIdentifier($"{Oid}.2.{i + 1}");
                            w.WriteInteger(i == 0 && componentOverride is { } c ? c : x.TcbComponentSvns[i]);
                        }
                    }

                    using (w.PushSequence())
                    {
                        w.WriteObjectIdentifier(Oid + ".2.17");
                        w.WriteInteger(pceSvnOverride ?? x.PceSvn);
                    }

                    if (!dropTcbEntry)
                    {
                        Octets(Oid + ".2.18", x.CpuSvn);
                    }
                }
            }

            Octets(Oid + ".3", x.PceId);
            Octets(Oid + ".4", x.Fmspc);
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(Oid + ".5");
                w.WriteEnumeratedValue((SgxType)(sgxType ?? (int)x.SgxType));
            }

            if (duplicateFmspc)
            {
                Octets(Oid + ".4", x.Fmspc);
            }
        }

        return w.Encode();
    }

    private static void AssertRejected(byte[] original, int offset, uint value, string field, int fieldOffset)
    {
        var bad = (byte[])original.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(bad.AsSpan(offset), value);
        var e = Assert.Throws<SgxFormatException>(() => Quote.Parse(bad));
        Assert.Equal((field, fieldOffset), (e.Field, e.Offset));
        if (value > 0xFFFF)
        {
            // A huge declared length is reported as declared, not wrapped or truncated.
            Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        }

        AssertNamed(e, bad.Length);
    }

    private static void AssertRejectedU16(byte[] original, int offset, ushort value, string field, int fieldOffset)
    {
        var bad = (byte[])original.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(bad.AsSpan(offset), value);
        var e = Assert.Throws<SgxFormatException>(() => Quote.Parse(bad));
        Assert.Equal((field, fieldOffset), (e.Field, e.Offset));
        AssertNamed(e, bad.Length);
    }

    private static void AssertNamed(SgxFormatException e, int inputLength)
    {
        var failures = new List<string>();
        CheckNamed(e, inputLength, failures);
        AssertNoFailures(failures);
    }

    private static void CheckNamed(SgxFormatException e, int inputLength, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(e.Field) || e.Field == "input" || e.Offset < 0 || e.Offset > inputLength ||
            !e.Message.StartsWith($"{e.Field} at offset {e.Offset}: ", StringComparison.Ordinal))
        {
            failures.Add($"exception does not name a field and an offset within {inputLength} bytes: field '{e.Field}', offset {e.Offset}, message '{e.Message}'");
        }
    }

    private static void AssertNoFailures(List<string> failures) =>
        Assert.True(failures.Count == 0, $"{failures.Count} failures, first: {string.Join(Environment.NewLine, failures.Distinct().Take(12))}");

    /// <summary>Offsets of the bytes the parser interprets (versions, types, sizes); every other byte is opaque to it.</summary>
    private static HashSet<int> StructuralOffsets(Quote quote)
    {
        var set = new HashSet<int>();
        void Add(int start, int count)
        {
            for (var i = start; i < start + count; i++)
            {
                set.Add(i);
            }
        }

        Add(0, 8);
        if (quote.Header.Version == 5)
        {
            Add(48, 6);
        }

        Add(quote.SignedLength, 4);
        Assert.True(MemoryMarshal.TryGetArray(quote.Raw, out var whole));
        Assert.True(MemoryMarshal.TryGetArray(quote.SignatureData.QeAuthData, out var auth));
        Add(auth.Offset - whole.Offset - 2, 2);
        Add(quote.SignatureData.CertificationData.Offset - 6, 6);
        if (quote.Header.Version > 3)
        {
            Add(quote.SignedLength + 4 + 128, 6);
        }

        return set;
    }

    private static byte[] PckExtensionDer(string id)
    {
        var quote = Quote.Parse(QuoteParsingTests.StripOeHeader(Read(id)));
        using var leaf = QuoteParsingTests.PckLeaf(quote);
        return leaf.Extensions[PckCertificateExtension.Oid]!.RawData;
    }

    private static byte[] Read(string id) => File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "quote.bin"));

    /// <summary>The innermost product frame of <paramref name="e"/>, to locate the bug.</summary>
    private static string Origin(Exception e) =>
        e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Veritee.", StringComparison.Ordinal) && !l.Contains(".Tests.", StringComparison.Ordinal)) ?? string.Empty;
}
