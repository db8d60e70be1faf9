using System.Buffers.Binary;
using Veritee.Sgx;

namespace Veritee.Dcap.Pccs;

/// <summary>How two TCB vectors (16 SGX component SVNs and PCESVN) relate: component by component, not lexicographically.</summary>
public enum TcbOrder
{
    /// <summary>Every value is equal.</summary>
    Equal,

    /// <summary>No value is lower and at least one is higher.</summary>
    Higher,

    /// <summary>No value is higher and at least one is lower.</summary>
    Lower,

    /// <summary>Some values are higher and some lower.</summary>
    Incomparable,
}

/// <summary>
/// A TCB as PCS lists it beside each PCK certificate (<c>pckcerts</c> <c>tcb</c> object): the 16 SGX TCB component SVNs
/// and PCESVN. For <c>tcbType</c> 0, the only type Intel publishes, the components are the CPUSVN bytes, so the TCBm
/// (CPUSVN ‖ PCESVN little-endian, 36 upper-case hex) follows from the TCB.
/// </summary>
public sealed class PcsTcb : IEquatable<PcsTcb>
{
    private readonly byte[] _components;

    /// <summary>Creates a TCB; <paramref name="componentSvns"/> must be 16 bytes.</summary>
    public PcsTcb(ReadOnlySpan<byte> componentSvns, ushort pceSvn)
    {
        if (componentSvns.Length != 16)
        {
            throw new ArgumentException($"a TCB has 16 component SVNs, got {componentSvns.Length}", nameof(componentSvns));
        }

        _components = componentSvns.ToArray();
        PceSvn = pceSvn;
    }

    /// <summary>The 16 SGX TCB component SVNs (<c>sgxtcbcomp01svn</c>…<c>sgxtcbcomp16svn</c>).</summary>
    public ReadOnlySpan<byte> ComponentSvns => _components;

    /// <summary>PCESVN.</summary>
    public ushort PceSvn { get; }

    /// <summary>The TCBm for <c>tcbType</c> 0: the components as CPUSVN, then PCESVN little-endian; 36 upper-case hex.</summary>
    public string Tcbm
    {
        get
        {
            Span<byte> bytes = stackalloc byte[18];
            _components.CopyTo(bytes);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes[16..], PceSvn);
            return Hex.Upper(bytes);
        }
    }

    /// <summary>Parses a TCBm (36 hex of either case) as a <c>tcbType</c> 0 TCB; false when it is not 36 hex digits.</summary>
    public static bool TryParseTcbm(ReadOnlySpan<char> tcbm, out PcsTcb? tcb)
    {
        tcb = null;
        if (tcbm.Length != 36 || !Hex.TryDecode(tcbm, out var bytes))
        {
            return false;
        }

        tcb = new PcsTcb(bytes.AsSpan(0, 16), BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(16)));
        return true;
    }

    /// <summary>Compares component by component (PCESVN as the 17th value): Intel's PCK selection order.</summary>
    public TcbOrder CompareTo(PcsTcb other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Compare(_components, PceSvn, other._components, other.PceSvn);
    }

    /// <summary>True when every value is at least the other's (<see cref="TcbOrder.Equal"/> or <see cref="TcbOrder.Higher"/>).</summary>
    public bool IsAtLeast(PcsTcb other) => CompareTo(other) is TcbOrder.Equal or TcbOrder.Higher;

    /// <summary>Compares two raw TCB vectors; see <see cref="CompareTo(PcsTcb)"/>.</summary>
    internal static TcbOrder Compare(ReadOnlySpan<byte> a, ushort aPce, ReadOnlySpan<byte> b, ushort bPce)
    {
        bool higher = false, lower = false;
        for (var i = 0; i < 16; i++)
        {
            higher |= a[i] > b[i];
            lower |= a[i] < b[i];
        }

        higher |= aPce > bPce;
        lower |= aPce < bPce;
        return (higher, lower) switch
        {
            (false, false) => TcbOrder.Equal,
            (true, false) => TcbOrder.Higher,
            (false, true) => TcbOrder.Lower,
            _ => TcbOrder.Incomparable,
        };
    }

    /// <inheritdoc/>
    public bool Equals(PcsTcb? other) => other is not null && PceSvn == other.PceSvn && _components.AsSpan().SequenceEqual(other._components);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PcsTcb);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_components);
        hash.Add(PceSvn);
        return hash.ToHashCode();
    }

    /// <summary>The TCBm.</summary>
    public override string ToString() => Tcbm;
}

/// <summary>
/// One entry of a platform's PCK certificate set, as PCS <c>pckcerts</c> lists it: the TCB level, its TCBm (36
/// upper-case hex) and the PEM certificate, or null where PCS says <c>"Not available"</c>.
/// </summary>
/// <param name="Tcb">The TCB level the certificate is issued for.</param>
/// <param name="Tcbm">CPUSVN ‖ PCESVN little-endian, 36 upper-case hex (the <c>SGX-TCBm</c> header value).</param>
/// <param name="CertificatePem">The PEM certificate (ends with a newline); null for "Not available".</param>
public sealed record PckCertificateEntry(PcsTcb Tcb, string Tcbm, string? CertificatePem);
