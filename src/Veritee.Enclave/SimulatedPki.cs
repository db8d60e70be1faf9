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
    PlatformCa,
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
    public const string PlatformCaCommonName = "Veritee Simulated SGX PCK Platform CA";
    public const string TcbSigningCommonName = "Veritee Simulated SGX TCB Signing";
    public const string PckCommonName = "Veritee Simulated SGX PCK Certificate";

    public const string RootCrlUri = "https://sgx.veritee.invalid/simulated/root-ca.crl";
    public const string ProcessorCrlUri = "https://sgx.veritee.invalid/simulated/pckcrl?ca=processor&encoding=der";
    public const string PlatformCrlUri = "https://sgx.veritee.invalid/simulated/pckcrl?ca=platform&encoding=der";

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
        byte[]? sgxExtension = null,
        bool platformCaIssued = false)
    {
        var commonName = role switch
        {
            PkiRole.Root => RootCommonName,
            PkiRole.ProcessorCa => ProcessorCaCommonName,
            PkiRole.PlatformCa => PlatformCaCommonName,
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
            PkiRole.Root or PkiRole.ProcessorCa or PkiRole.PlatformCa => new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true),
            _ => new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.NonRepudiation, critical: true),
        });
        request.CertificateExtensions.Add(role switch
        {
            PkiRole.Root => new X509BasicConstraintsExtension(true, true, 1, critical: true),
            PkiRole.ProcessorCa or PkiRole.PlatformCa => new X509BasicConstraintsExtension(true, true, 0, critical: true),
            _ => new X509BasicConstraintsExtension(false, false, 0, critical: true),
        });
        var crlUri = role is PkiRole.Pck ? (platformCaIssued ? PlatformCrlUri : ProcessorCrlUri) : RootCrlUri;
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
    public static byte[] SgxExtension(PlatformProfile profile) =>
        SgxExtension(profile.Ppid, profile.TcbComponents, profile.PceSvn, profile.PceId, profile.Fmspc, platformInstanceId: null);

    /// <summary>
    /// The SGX extension of a PCK certificate for one TCB level (CPUSVN = the component SVNs, as for tcbType 0):
    /// 5 entries for the Processor CA, or 7 with SGX type Scalable, the platform instance id and the configuration
    /// (dynamic platform, cached keys, SMT) for the Platform CA when <paramref name="platformInstanceId"/> is given.
    /// </summary>
    public static byte[] SgxExtension(byte[] ppid, byte[] components, ushort pceSvn, byte[] pceId, byte[] fmspc, byte[]? platformInstanceId)
    {
        const string Oid = PckCertificateExtension.Oid;
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".1");
                writer.WriteOctetString(ppid);
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
                            writer.WriteInteger(components[i]);
                        }
                    }

                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(Oid + ".2.17");
                        writer.WriteInteger(pceSvn);
                    }

                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(Oid + ".2.18");
                        writer.WriteOctetString(components);
                    }
                }
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".3");
                writer.WriteOctetString(pceId);
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".4");
                writer.WriteOctetString(fmspc);
            }

            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier(Oid + ".5");
                writer.WriteEnumeratedValue(platformInstanceId is null ? SgxType.Standard : SgxType.Scalable);
            }

            if (platformInstanceId is not null)
            {
                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier(Oid + ".6");
                    writer.WriteOctetString(platformInstanceId);
                }

                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier(Oid + ".7");
                    using (writer.PushSequence())
                    {
                        foreach (var (index, value) in new[] { (1, false), (2, true), (3, true) })
                        {
                            using (writer.PushSequence())
                            {
                                writer.WriteObjectIdentifier($"{Oid}.7.{index}");
                                writer.WriteBoolean(value);
                            }
                        }
                    }
                }
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
