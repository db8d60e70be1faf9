using Veritee.Dcap.X509;

namespace Veritee.Dcap.Collateral;

/// <summary>One dated limit of a collateral bundle, e.g. <c>("TCB Info nextUpdate", 2025-07-19T10:00:35Z)</c>.</summary>
/// <param name="Part">The part and the field, for messages.</param>
/// <param name="Time">The instant after which the part is stale.</param>
public sealed record CollateralDeadline(string Part, DateTimeOffset Time);

/// <summary>
/// The validity of a <see cref="QuoteCollateral"/> bundle: nextUpdate of TCB Info, QE Identity and both CRLs, and
/// notAfter of every certificate in the three issuer chains (the dates QvE folds into its expiration status).
/// Parses but does not verify signatures; that stays with the verifier.
/// </summary>
public sealed class CollateralValidity
{
    private CollateralValidity(IReadOnlyList<CollateralDeadline> deadlines)
    {
        Deadlines = deadlines;
        Earliest = deadlines.MinBy(d => d.Time)!;
    }

    /// <summary>Every deadline of the bundle.</summary>
    public IReadOnlyList<CollateralDeadline> Deadlines { get; }

    /// <summary>The deadline that comes first: the bundle is stale after it.</summary>
    public CollateralDeadline Earliest { get; }

    /// <summary>True when <paramref name="time"/> is before every deadline (QvE counts a deadline equal to the time as expired).</summary>
    public bool IsValidAt(DateTimeOffset time) => time < Earliest.Time;

    /// <summary>Reads the deadlines of <paramref name="collateral"/>.</summary>
    /// <exception cref="DcapFormatException">A part does not parse; the message names it.</exception>
    public static CollateralValidity Of(QuoteCollateral collateral)
    {
        ArgumentNullException.ThrowIfNull(collateral);
        var deadlines = new List<CollateralDeadline>
        {
            new("TCB Info nextUpdate", Part("TCB Info", () => TcbInfo.Parse(collateral.TcbInfo)).NextUpdate),
            new("QE Identity nextUpdate", Part("QE Identity", () => EnclaveIdentity.Parse(collateral.QeIdentity)).NextUpdate),
            new("root CA CRL nextUpdate", Part("root CA CRL", () => CertificateRevocationList.Parse(collateral.RootCaCrl)).NextUpdate),
            new("PCK CRL nextUpdate", Part("PCK CRL", () => CertificateRevocationList.Parse(collateral.PckCrl)).NextUpdate),
        };
        AddChain(deadlines, "TCB Info issuer chain", collateral.TcbInfoIssuerChain);
        AddChain(deadlines, "QE Identity issuer chain", collateral.QeIdentityIssuerChain);
        AddChain(deadlines, "PCK CRL issuer chain", collateral.PckCrlIssuerChain);
        return new CollateralValidity(deadlines);
    }

    private static void AddChain(List<CollateralDeadline> deadlines, string what, byte[] pem)
    {
        var certificates = Part(what, () => Pem.DecodeCertificates(pem));
        if (certificates.Count == 0)
        {
            throw new DcapFormatException($"{what}: no certificate");
        }

        foreach (var der in certificates)
        {
            var cert = Part(what, () => DcapCertificate.Parse(der));
            deadlines.Add(new CollateralDeadline($"{what} certificate '{cert.SubjectCommonName}' notAfter", cert.NotAfter));
        }
    }

    private static T Part<T>(string what, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (DcapFormatException e) when (!e.Message.StartsWith(what, StringComparison.Ordinal))
        {
            throw new DcapFormatException($"{what}: {e.Message}", e);
        }
    }
}
