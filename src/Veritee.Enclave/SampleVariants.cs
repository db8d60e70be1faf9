namespace Veritee.Enclave;

/// <summary>
/// The four enclaves of the Azure attestation samples: debug, release, a higher security version and another
/// product id, each written as <c>enclave.info.*.json</c>.
/// </summary>
public static class SampleVariants
{
    /// <summary>The SVN of the securityversion variant and the product id of the prodid variant.</summary>
    public const ushort VariantValue = 999;

    /// <summary>The file names and enclave identities of the four variants, derived from a release enclave.</summary>
    public static IReadOnlyList<(string FileName, SimulatedEnclave Enclave)> Of(SimulatedEnclave release)
    {
        ArgumentNullException.ThrowIfNull(release);
        var baseEnclave = release with { Debug = false };
        return
        [
            ("enclave.info.debug.json", baseEnclave with { Debug = true }),
            ("enclave.info.release.json", baseEnclave),
            ("enclave.info.securityversion.json", baseEnclave with { SecurityVersion = VariantValue }),
            ("enclave.info.prodid.json", baseEnclave with { ProductId = VariantValue }),
        ];
    }

    /// <summary>Quotes one enclave as the samples do: a fresh RSA-2048 key whose public key is the enclave-held data.</summary>
    public static EnclaveInfo Generate(SimulatedPlatform platform, SimulatedEnclave enclave, byte[]? enclaveHeldData = null, int quoteVersion = 3, bool openEnclaveEnvelope = false)
    {
        ArgumentNullException.ThrowIfNull(platform);
        using var sample = new SampleEnclave(enclaveHeldData);
        var quote = platform.Quote(enclave, sample.ReportData, quoteVersion);
        return EnclaveInfo.FromQuote(openEnclaveEnvelope ? Veritee.Sgx.OpenEnclaveReport.Wrap(quote) : quote, sample.EnclaveHeldData);
    }
}
