using Veritee.Dcap.X509;
using Veritee.Sgx;

namespace Veritee.Dcap.Collateral;

/// <summary>The CA that issued a PCK certificate, which selects the PCK CRL (<c>pckcrl?ca=processor|platform</c>).</summary>
public enum PckCaKind
{
    /// <summary>Intel SGX PCK Processor CA.</summary>
    Processor,

    /// <summary>Intel SGX PCK Platform CA.</summary>
    Platform,
}

/// <summary>Which TCB Info / QE Identity generation to ask for (PCS <c>update=standard|early</c>).</summary>
public enum CollateralUpdate
{
    /// <summary><c>update=standard</c>: the TCB recovery is in effect after its grace period.</summary>
    Standard,

    /// <summary><c>update=early</c>: the newest TCB recovery as soon as Intel publishes it.</summary>
    Early,
}

/// <summary>
/// What to fetch collateral for: the platform's FMSPC, the TEE, the PCK CA and optionally the update channel.
/// Value equality, so it serves as the cache key; <see cref="CacheKey"/> is its text form for a database.
/// </summary>
public sealed record CollateralRequest
{
    /// <summary>A request for <paramref name="fmspc"/> (6 bytes) on <paramref name="tee"/>.</summary>
    /// <exception cref="ArgumentException">FMSPC not 6 bytes, or an unknown TEE / CA kind / update.</exception>
    public CollateralRequest(ReadOnlySpan<byte> fmspc, TeeType tee, PckCaKind caKind, CollateralUpdate? update = null)
    {
        if (fmspc.Length != 6)
        {
            throw new ArgumentException($"FMSPC is {fmspc.Length} bytes, 6 expected", nameof(fmspc));
        }

        if (tee is not (TeeType.Sgx or TeeType.Tdx))
        {
            throw new ArgumentException($"TEE type 0x{(uint)tee:x} is neither SGX nor TDX", nameof(tee));
        }

        if (!Enum.IsDefined(caKind))
        {
            throw new ArgumentException($"unknown PCK CA kind {caKind}", nameof(caKind));
        }

        if (update is { } u && !Enum.IsDefined(u))
        {
            throw new ArgumentException($"unknown update type {u}", nameof(update));
        }

        Fmspc = Hex.Upper(fmspc);
        Tee = tee;
        CaKind = caKind;
        Update = update;
    }

    /// <summary>The FMSPC as 12 upper-case hex digits (the form PCS and PCCS use in <c>fmspc=</c>).</summary>
    public string Fmspc { get; }

    /// <summary>SGX or TDX: selects <c>/sgx/</c> or <c>/tdx/</c> TCB Info and QE Identity.</summary>
    public TeeType Tee { get; }

    /// <summary>The PCK CA whose CRL is fetched.</summary>
    public PckCaKind CaKind { get; }

    /// <summary>The update channel; null sends no <c>update</c> parameter (the server default, standard).</summary>
    public CollateralUpdate? Update { get; }

    /// <summary>A stable text key, e.g. <c>tdx/B0C06F000000/platform/standard</c> (<c>default</c> when no update channel).</summary>
    public string CacheKey =>
        $"{(Tee == TeeType.Tdx ? "tdx" : "sgx")}/{Fmspc}/{CaKindParameter(CaKind)}/{(Update is { } u ? UpdateParameter(u) : "default")}";

    /// <summary>
    /// The request for the platform that produced <paramref name="evidence"/> (a quote, optionally in an Open Enclave
    /// report header): FMSPC from the PCK certificate's SGX extension, the CA kind from its issuer, the TEE from the quote.
    /// </summary>
    /// <exception cref="FormatException">
    /// <see cref="SgxFormatException"/> or <see cref="DcapFormatException"/>: the quote, its PCK chain or the SGX extension does not parse.
    /// </exception>
    public static CollateralRequest FromQuote(ReadOnlyMemory<byte> evidence, CollateralUpdate? update = null)
    {
        var quote = Quote.Parse(OpenEnclaveReport.UnwrapIfPresent(evidence));
        var certification = quote.SignatureData.CertificationData;
        if (certification.Type != CertificationDataType.PckCertificateChain)
        {
            throw new DcapFormatException($"quote: certification data type {(ushort)certification.Type} is not 5 (PCK certificate chain)");
        }

        var pck = PckCertificateOf(certification.Data.Span);
        var extension = pck.SgxExtension is { } ext
            ? PckCertificateExtension.Parse(ext)
            : throw new DcapFormatException("quote PCK certificate lacks the SGX extension");
        return new CollateralRequest(extension.Fmspc, quote.TeeType, CaKindOf(pck), update);
    }

    /// <summary>
    /// The CA kind of the PCK certificate in a PEM chain (as carried in a quote): Processor when its issuer CN contains
    /// "Processor", Platform when it contains "Platform".
    /// </summary>
    /// <exception cref="DcapFormatException">No PCK certificate in the chain, or an issuer that is neither.</exception>
    public static PckCaKind CaKindFromPckChain(ReadOnlySpan<byte> pemChain) => CaKindOf(PckCertificateOf(pemChain));

    /// <summary>The CA kind of <paramref name="pckCertificate"/> by its issuer common name.</summary>
    /// <exception cref="DcapFormatException">The issuer CN names neither a Processor nor a Platform CA.</exception>
    public static PckCaKind CaKindOf(DcapCertificate pckCertificate)
    {
        ArgumentNullException.ThrowIfNull(pckCertificate);
        var issuer = pckCertificate.IssuerCommonName;
        return issuer.Contains("Processor", StringComparison.Ordinal) ? PckCaKind.Processor
            : issuer.Contains("Platform", StringComparison.Ordinal) ? PckCaKind.Platform
            : throw new DcapFormatException($"PCK certificate issuer '{issuer}' is neither a Processor nor a Platform CA");
    }

    /// <summary>The <c>ca=</c> value: <c>processor</c> or <c>platform</c>.</summary>
    public static string CaKindParameter(PckCaKind kind) => kind == PckCaKind.Platform ? "platform" : "processor";

    /// <summary>The <c>update=</c> value: <c>standard</c> or <c>early</c>.</summary>
    public static string UpdateParameter(CollateralUpdate update) => update == CollateralUpdate.Early ? "early" : "standard";

    /// <inheritdoc/>
    public override string ToString() => CacheKey;

    private static DcapCertificate PckCertificateOf(ReadOnlySpan<byte> pemChain)
    {
        foreach (var der in Pem.DecodeCertificates(pemChain))
        {
            var cert = DcapCertificate.Parse(der);
            if (!cert.IsSelfIssued && cert.SubjectCommonName.Contains("SGX PCK Certificate", StringComparison.Ordinal))
            {
                return cert;
            }
        }

        throw new DcapFormatException("PCK chain holds no SGX PCK Certificate");
    }
}
