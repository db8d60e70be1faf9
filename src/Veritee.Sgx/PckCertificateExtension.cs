using System.Formats.Asn1;
using System.Numerics;

namespace Veritee.Sgx;

/// <summary>The SGX type recorded in a PCK certificate.</summary>
public enum SgxType
{
    /// <summary>Standard (single-package, Processor CA).</summary>
    Standard = 0,

    /// <summary>Scalable (multi-package or TDX-capable, Platform CA).</summary>
    Scalable = 1,

    /// <summary>Scalable with integrity.</summary>
    ScalableWithIntegrity = 2,
}

/// <summary>The Configuration entry of Platform-CA PCK certificates.</summary>
public sealed record PckPlatformConfiguration(bool? DynamicPlatform, bool? CachedKeys, bool? SmtEnabled);

/// <summary>
/// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate: the platform's TCB as certified by
/// Intel (16 component SVNs, PCESVN, CPUSVN), PPID, PCE-ID, FMSPC and SGX type. TCB level matching uses these values,
/// not the CPUSVN of the quote's report.
/// </summary>
public sealed record PckCertificateExtension
{
    /// <summary>Dotted OID of the extension.</summary>
    public const string Oid = "1.2.840.113741.1.13.1";

    private const string Tcb = Oid + ".2";

    /// <summary>PPID (16 bytes).</summary>
    public required byte[] Ppid { get; init; }

    /// <summary>The 16 SGX TCB component SVNs (TCB Info <c>sgxtcbcomponents</c> order).</summary>
    public required byte[] TcbComponentSvns { get; init; }

    /// <summary>PCESVN.</summary>
    public required ushort PceSvn { get; init; }

    /// <summary>CPUSVN (16 bytes).</summary>
    public required byte[] CpuSvn { get; init; }

    /// <summary>PCE-ID (2 bytes).</summary>
    public required byte[] PceId { get; init; }

    /// <summary>FMSPC (6 bytes): the platform family the TCB Info is published for.</summary>
    public required byte[] Fmspc { get; init; }

    /// <summary>SGX type.</summary>
    public required SgxType SgxType { get; init; }

    /// <summary>Platform instance id (16 bytes), Platform-CA certificates only.</summary>
    public byte[]? PlatformInstanceId { get; init; }

    /// <summary>Platform configuration flags, Platform-CA certificates only.</summary>
    public PckPlatformConfiguration? Configuration { get; init; }

    /// <summary>
    /// Parses the extension value (the DER content of <c>extnValue</c>). Follows Intel's rules: exactly 5 top-level
    /// entries (Processor CA) or 7 (Platform CA), exact lengths, and a TCB sequence of 16 components, PCESVN and CPUSVN.
    /// Throws <see cref="SgxFormatException"/> naming the entry and the DER offset.
    /// </summary>
    public static PckCertificateExtension Parse(ReadOnlyMemory<byte> der)
    {
        try
        {
            return ParseCore(der);
        }
        catch (AsnContentException e)
        {
            throw new SgxFormatException("sgx_extension", 0, "malformed DER: " + e.Message);
        }
    }

    private static PckCertificateExtension ParseCore(ReadOnlyMemory<byte> der)
    {
        var outer = new AsnReader(der, AsnEncodingRules.DER);
        var entries = outer.ReadSequence();
        ExpectEnd(outer, der, "sgx_extension");

        byte[]? ppid = null, pceId = null, fmspc = null, instanceId = null;
        (byte[] Comps, ushort PceSvn, byte[] CpuSvn)? tcb = null;
        SgxType? sgxType = null;
        PckPlatformConfiguration? configuration = null;
        var count = 0;
        while (entries.HasData)
        {
            var offset = OffsetOf(der, entries.PeekEncodedValue());
            var entry = entries.ReadSequence();
            var oid = entry.ReadObjectIdentifier();
            count++;
            switch (oid)
            {
                case Oid + ".1":
                    ppid = Once(ppid, ReadOctets(entry, 16, "PPID", der), "PPID", offset);
                    break;
                case Tcb:
                    if (tcb is not null)
                    {
                        throw new SgxFormatException("sgx_extension.TCB", offset, "appears twice");
                    }

                    tcb = ReadTcb(entry.ReadSequence(), der, offset);
                    break;
                case Oid + ".3":
                    pceId = Once(pceId, ReadOctets(entry, 2, "PCE-ID", der), "PCE-ID", offset);
                    break;
                case Oid + ".4":
                    fmspc = Once(fmspc, ReadOctets(entry, 6, "FMSPC", der), "FMSPC", offset);
                    break;
                case Oid + ".5":
                    if (sgxType is not null)
                    {
                        throw new SgxFormatException("sgx_extension.SGX Type", offset, "appears twice");
                    }

                    var type = entry.ReadEnumeratedValue<SgxType>();
                    if (!Enum.IsDefined(type))
                    {
                        throw new SgxFormatException("sgx_extension.SGX Type", offset, $"unknown value {(int)type}");
                    }

                    sgxType = type;
                    break;
                case Oid + ".6":
                    instanceId = Once(instanceId, ReadOctets(entry, 16, "Platform Instance ID", der), "Platform Instance ID", offset);
                    break;
                case Oid + ".7":
                    configuration = ReadConfiguration(entry.ReadSequence(), der);
                    break;
                default:
                    throw new SgxFormatException("sgx_extension", offset, $"unexpected entry {oid}");
            }

            ExpectEnd(entry, der, "sgx_extension entry " + oid);
        }

        if (count is not (5 or 7))
        {
            throw new SgxFormatException("sgx_extension", 0, $"has {count} entries; 5 (Processor CA) or 7 (Platform CA) expected");
        }

        if (ppid is null || tcb is null || pceId is null || fmspc is null || sgxType is null)
        {
            var missing = ppid is null ? "PPID" : tcb is null ? "TCB" : pceId is null ? "PCE-ID" : fmspc is null ? "FMSPC" : "SGX Type";
            throw new SgxFormatException("sgx_extension." + missing, 0, "missing");
        }

        if (count == 7 && (instanceId is null || configuration is null))
        {
            throw new SgxFormatException("sgx_extension", 0, "a 7-entry extension must carry Platform Instance ID and Configuration");
        }

        return new PckCertificateExtension
        {
            Ppid = ppid,
            TcbComponentSvns = tcb.Value.Comps,
            PceSvn = tcb.Value.PceSvn,
            CpuSvn = tcb.Value.CpuSvn,
            PceId = pceId,
            Fmspc = fmspc,
            SgxType = sgxType.Value,
            PlatformInstanceId = instanceId,
            Configuration = configuration,
        };
    }

    private static (byte[] Comps, ushort PceSvn, byte[] CpuSvn) ReadTcb(AsnReader tcb, ReadOnlyMemory<byte> der, int tcbOffset)
    {
        var comps = new byte[16];
        var seen = new bool[18];
        ushort pceSvn = 0;
        byte[]? cpuSvn = null;
        var count = 0;
        while (tcb.HasData)
        {
            var offset = OffsetOf(der, tcb.PeekEncodedValue());
            var item = tcb.ReadSequence();
            var oid = item.ReadObjectIdentifier();
            if (!oid.StartsWith(Tcb + ".", StringComparison.Ordinal) ||
                !int.TryParse(oid.AsSpan(Tcb.Length + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) ||
                index is < 1 or > 18)
            {
                throw new SgxFormatException("sgx_extension.TCB", offset, $"unexpected entry {oid}");
            }

            if (seen[index - 1])
            {
                throw new SgxFormatException("sgx_extension.TCB", offset, $"entry {oid} appears twice");
            }

            seen[index - 1] = true;
            count++;
            if (index <= 16)
            {
                comps[index - 1] = (byte)ReadSmallInteger(item, 255, $"TCB component {index}", offset);
            }
            else if (index == 17)
            {
                pceSvn = (ushort)ReadSmallInteger(item, ushort.MaxValue, "PCESVN", offset);
            }
            else
            {
                cpuSvn = ReadOctets(item, 16, "CPUSVN", der);
            }

            ExpectEnd(item, der, "sgx_extension.TCB entry " + oid);
        }

        if (count != 18 || cpuSvn is null)
        {
            throw new SgxFormatException("sgx_extension.TCB", tcbOffset, $"has {count} entries; 16 components, PCESVN and CPUSVN expected");
        }

        return (comps, pceSvn, cpuSvn);
    }

    private static PckPlatformConfiguration ReadConfiguration(AsnReader seq, ReadOnlyMemory<byte> der)
    {
        bool? dynamic = null, cached = null, smt = null;
        while (seq.HasData)
        {
            var offset = OffsetOf(der, seq.PeekEncodedValue());
            var item = seq.ReadSequence();
            var oid = item.ReadObjectIdentifier();
            var value = item.ReadBoolean();
            switch (oid)
            {
                case Oid + ".7.1": dynamic = value; break;
                case Oid + ".7.2": cached = value; break;
                case Oid + ".7.3": smt = value; break;
                default: throw new SgxFormatException("sgx_extension.Configuration", offset, $"unexpected entry {oid}");
            }
        }

        return new PckPlatformConfiguration(dynamic, cached, smt);
    }

    private static int ReadSmallInteger(AsnReader reader, int max, string field, int offset)
    {
        BigInteger value = reader.ReadInteger();
        if (value < 0 || value > max)
        {
            throw new SgxFormatException("sgx_extension." + field, offset, $"value {value} outside 0..{max}");
        }

        return (int)value;
    }

    private static byte[] ReadOctets(AsnReader reader, int length, string field, ReadOnlyMemory<byte> der)
    {
        var offset = OffsetOf(der, reader.PeekEncodedValue());
        var bytes = reader.ReadOctetString();
        if (bytes.Length != length)
        {
            throw new SgxFormatException("sgx_extension." + field, offset, $"must be {length} bytes, got {bytes.Length}");
        }

        return bytes;
    }

    private static T Once<T>(T? existing, T value, string field, int offset)
        where T : class =>
        existing is null ? value : throw new SgxFormatException("sgx_extension." + field, offset, "appears twice");

    private static void ExpectEnd(AsnReader reader, ReadOnlyMemory<byte> der, string field)
    {
        if (reader.HasData)
        {
            throw new SgxFormatException(field, OffsetOf(der, reader.PeekEncodedValue()), "unexpected trailing data");
        }
    }

    private static int OffsetOf(ReadOnlyMemory<byte> whole, ReadOnlyMemory<byte> part) =>
        whole.Span.Overlaps(part.Span, out var offset) ? offset : 0;
}
