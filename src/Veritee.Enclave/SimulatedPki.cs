using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Veritee.Sgx;

namespace Veritee.Enclave;

/// <summary>The role of a certificate in the simulated SGX PKI (the shape of Intel's, docs/verification.md §2.1).</summary>
internal enum PkiRole
{
    Root,
    ProcessorCa,
    TcbSigning,
    Pck,
}

/// <summary>
/// Builds the simulated PKI's certificates. Every certificate carries the five extensions Intel's verifier requires
/// (AKI, SKI, KeyUsage, BasicConstraints, CRL Distribution Points) and a common name containing the substring
/// QVL looks for; PCK certificates carry the SGX extension with exactly Intel's 5-entry Processor-CA layout.
/// </summary>
internal static class SimulatedPki
{
    public const string RootCommonName = "Veritee Simulated SGX Root CA";
    public const string ProcessorCaCommonName = "Veritee Simulated SGX PCK Processor CA";
    public const string TcbSigningCommonName = "Veritee Simulated SGX TCB Signing";
    public const string PckCommonName = "Veritee Simulated SGX PCK Certificate";

    public const string RootCrlUri = "https://sgx.veritee.invalid/simulated/root-ca.crl";
    public const string ProcessorCrlUri = "https://sgx.veritee.invalid/simulated/pckcrl?ca=processor&encoding=der";

    public static X500DistinguishedName Name(string commonName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(commonName);
        builder.AddOrganizationName("Veritee Simulation");
        builder.AddLocalityName("Simulated");
        builder.AddStateOrProvinceName("SIM");
        builder.AddCountryOrRegion("ZZ");
        return builder.Build();
    }

    public static ECDsa NewKey() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    /// <summary>A positive, non-zero serial of 16 random bytes.</summary>
    public static byte[] NewSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x10);
        return serial;
    }

    /// <summary>Issues a certificate; <paramref name="issuer"/> null means self-signed (the root).</summary>
    public static X509Certificate2 Issue(
        PkiRole role,
        ECDsa subjectKey,
        X509Certificate2? issuer,
        ECDsa issuerKey,
        DateTimeOffset notBefore,
        DateTimeOffset notAfter,
        byte[]? sgxExtension = null)
    {
        var commonName = role switch
        {
            PkiRole.Root => RootCommonName,
            PkiRole.ProcessorCa => ProcessorCaCommonName,
            PkiRole.TcbSigning => TcbSigningCommonName,
            _ => PckCommonName,
        };
        var subject = Name(commonName);
        var request = new CertificateRequest(subject, subjectKey, HashAlgorithmName.SHA256);
        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, false);
        request.CertificateExtensions.Add(issuer is null
            ? X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski)
            : X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        request.CertificateExtensions.Add(ski);
        request.CertificateExtensions.Add(role switch
        {
            PkiRole.Root or PkiRole.ProcessorCa => new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true),
            _ => new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.NonRepudiation, critical: true),
        });
        request.CertificateExtensions.Add(role switch
        {
            PkiRole.Root => new X509BasicConstraintsExtension(true, true, 1, critical: true),
            PkiRole.ProcessorCa => new X509BasicConstraintsExtension(true, true, 0, critical: true),
            _ => new X509BasicConstraintsExtension(false, false, 0, critical: true),
        });
        var crlUri = role is PkiRole.Pck ? ProcessorCrlUri : RootCrlUri;
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([crlUri]));
        if (sgxExtension is not null)
        {
            request.CertificateExtensions.Add(new X509Extension(PckCertificateExtension.Oid, sgxExtension, critical: false));
        }

        var issuerName = issuer?.SubjectName ?? subject;
        using var certificate = request.Create(issuerName, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore, notAfter, NewSerial());
        return X509CertificateLoader.LoadCertificate(certificate.RawData);
    }

    /// <summary>
    /// The SGX extension value (OID 1.2.840.113741.1.13.1) of a Processor-CA PCK certificate: PPID, TCB (16
    /// component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC and SGX type, in Intel's order.
    /// </summary>
    public static byte[] SgxExtension(PlatformProfile profile)
    {
        const string Oid = PckCertificateExtension.Oid;
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".1");
                writer.WriteOctetString(profile.Ppid);
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".2");
                using (writer.PushSequence())
                {
                    for (var i = 0; i < 16; i++)
                    {
                        using (writer.PushSequence())
                        {
                            writer.WriteObjectIdentifier($"{Oid}.2.{i + 1}");
                            writer.WriteInteger(profile.TcbComponents[i]);
                        }
                    }

                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(Oid + ".2.17");
                        writer.WriteInteger(profile.PceSvn);
                    }

                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(Oid + ".2.18");
                        writer.WriteOctetString(profile.CpuSvn);
                    }
                }
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".3");
                writer.WriteOctetString(profile.PceId);
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".4");
                writer.WriteOctetString(profile.Fmspc);
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".5");
                writer.WriteEnumeratedValue(SgxType.Standard);
            }
        }

        return writer.Encode();
    }

    /// <summary>A CRL issued by <paramref name="issuer"/> listing <paramref name="revokedSerials"/>, with CRL Number and AKI.</summary>
    public static byte[] Crl(X509Certificate2 issuer, ECDsa issuerKey, IEnumerable<byte[]> revokedSerials, long number, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var serial in revokedSerials)
        {
            builder.AddEntry(serial, thisUpdate, X509RevocationReason.KeyCompromise);
        }

        using var withKey = issuer.CopyWithPrivateKey(issuerKey);
        return builder.Build(withKey, number, nextUpdate, HashAlgorithmName.SHA256, rsaSignaturePadding: null, thisUpdate: thisUpdate);
    }
}
