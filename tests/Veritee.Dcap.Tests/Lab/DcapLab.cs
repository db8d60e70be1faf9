using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Veritee.Dcap.Lab;

/// <summary>One platform TCB level of a generated TCB Info (statuses are free text, so invalid ones can be made).</summary>
public sealed record LabTcbLevel(byte[] Sgx, ushort PceSvn, byte[]? Tdx, string Status);

/// <summary>One level of a QE identity or a TDX module identity.</summary>
public sealed record LabIsvLevel(ushort IsvSvn, string Status);

/// <summary>A <c>tdxModuleIdentities</c> entry.</summary>
public sealed record LabModuleIdentity(string Id, IReadOnlyList<LabIsvLevel> Levels);

/// <summary>
/// A self-contained DCAP world for hand-built and generated scenarios: its own PKI (root, PCK Processor CA, PCK
/// certificate with an SGX extension, TCB Signing), SGX v3 and TDX v4/v5 quotes signed like Intel's QE signs them,
/// and TCB Info / QE Identity of any content signed over their exact bytes. Written from Intel's public formats only;
/// it uses no Veritee verification code, so the differential harness can use it as an independent generator.
/// </summary>
public sealed class DcapLab : IDisposable
{
    /// <summary>FMSPC of the lab platform.</summary>
    public static readonly byte[] Fmspc = Convert.FromHexString("00906ED50000");

    /// <summary>MRSIGNER of the lab quoting enclaves (QE and TD QE).</summary>
    public static readonly byte[] QeMrSigner = SHA256.HashData("veritee-lab-qe"u8);

    /// <summary>MRSIGNERSEAM of the lab TDX module.</summary>
    public static readonly byte[] SeamSigner = SHA384.HashData("veritee-lab-seam"u8);

    /// <summary>ISVPRODID of the lab QE (SGX) and TD QE (TDX).</summary>
    public const ushort QeProdId = 1;

    /// <summary>ISVPRODID of the lab TD QE.</summary>
    public const ushort TdQeProdId = 2;

    private readonly ECDsa _rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _pckKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _signingKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _attestationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _root;
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _pck;
    private readonly X509Certificate2 _signing;

    /// <summary>Creates the PKI: certificates valid from a year before <paramref name="now"/> to <paramref name="certificatesNotAfter"/>.</summary>
    public DcapLab(DateTimeOffset now, byte[] pckComponents, ushort pceSvn, DateTimeOffset? certificatesNotAfter = null)
    {
        ArgumentNullException.ThrowIfNull(pckComponents);
        PckComponents = pckComponents;
        PceSvn = pceSvn;
        var notBefore = Seconds(now).AddYears(-1);
        var notAfter = Seconds(certificatesNotAfter ?? now.AddYears(5));
        CertificatesNotAfter = notAfter;
        _root = Issue("Veritee Lab SGX Root CA", _rootKey, null, _rootKey, notBefore, notAfter, ca: true, null);
        _ca = Issue("Veritee Lab SGX PCK Processor CA", _caKey, _root, _rootKey, notBefore, notAfter, ca: true, null);
        _pck = Issue("Veritee Lab SGX PCK Certificate", _pckKey, _ca, _caKey, notBefore, notAfter, ca: false, SgxExtension(pckComponents, pceSvn));
        _signing = Issue("Veritee Lab SGX TCB Signing", _signingKey, _root, _rootKey, notBefore, notAfter, ca: false, null);
    }

    /// <summary>The PCK certificate's 16 TCB component SVNs.</summary>
    public byte[] PckComponents { get; }

    /// <summary>The PCK certificate's PCESVN.</summary>
    public ushort PceSvn { get; }

    /// <summary>notAfter of every certificate.</summary>
    public DateTimeOffset CertificatesNotAfter { get; }

    /// <summary>The root certificate as PEM (the trusted root).</summary>
    public string RootPem => _root.ExportCertificatePem() + "\n";

    /// <summary>The root's public key as an uncompressed point without the 0x04 prefix.</summary>
    public byte[] RootPoint
    {
        get
        {
            var q = _rootKey.ExportParameters(false).Q;
            return [.. q.X!, .. q.Y!];
        }
    }

    /// <summary>An SGX v3 quote whose QE has ISVSVN <paramref name="qeSvn"/>.</summary>
    public byte[] SgxQuote(ushort qeSvn)
    {
        var app = ReportBody(PckComponents, SHA256.HashData("veritee-lab-app"u8), SHA256.HashData("veritee-lab-app-signer"u8), 7, 3, new byte[64]);
        return Quote(3, (uint)0, null, app, qeSvn, QeProdId);
    }

    /// <summary>
    /// A TDX quote: version 4 (TD 1.0 body) or 5 (TD 1.5 body, type 3, with <paramref name="teeTcbSvn2"/>), with the
    /// TD QE at ISVSVN <paramref name="qeSvn"/> and MRSIGNERSEAM <see cref="SeamSigner"/>, SEAMATTRIBUTES zero.
    /// </summary>
    public byte[] TdxQuote(int version, byte[] teeTcbSvn, byte[]? teeTcbSvn2, ushort qeSvn)
    {
        ArgumentNullException.ThrowIfNull(teeTcbSvn);
        var td = new byte[version == 5 ? 648 : 584];
        teeTcbSvn.CopyTo(td, 0);
        SHA384.HashData("veritee-lab-seam-module"u8).CopyTo(td, 16);
        SeamSigner.CopyTo(td, 64);
        td[128] = 0xE7;
        SHA384.HashData("veritee-lab-td"u8).CopyTo(td, 136);
        if (version == 5)
        {
            (teeTcbSvn2 ?? new byte[16]).CopyTo(td, 584);
        }

        return Quote(version, 0x81, version == 5 ? (ushort)3 : null, td, qeSvn, TdQeProdId);
    }

    /// <summary>Wraps <paramref name="body"/> (exact bytes) as <c>{"bodyName":body,"signature":"…"}</c> signed by the TCB Signing key.</summary>
    public byte[] Sign(string bodyName, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var signature = _signingKey.SignData(bytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return Encoding.UTF8.GetBytes($"{{\"{bodyName}\":{body},\"signature\":\"{Convert.ToHexStringLower(signature)}\"}}");
    }

    /// <summary>The collateral bundle: signed TCB Info and QE Identity, both CRLs valid from <paramref name="crlThisUpdate"/> to <paramref name="crlNextUpdate"/>.</summary>
    public LabCollateral Collateral(string tcbInfoBody, string qeIdentityBody, DateTimeOffset crlThisUpdate, DateTimeOffset crlNextUpdate, bool revokePck = false)
    {
        var rootPem = RootPem;
        var signingChain = Encoding.ASCII.GetBytes(_signing.ExportCertificatePem() + "\n" + rootPem);
        var crlChain = Encoding.ASCII.GetBytes(_ca.ExportCertificatePem() + "\n" + rootPem);
        var number = crlThisUpdate.ToUnixTimeSeconds();
        var rootCrl = Crl(_root, _rootKey, [], number, crlThisUpdate, crlNextUpdate);
        var pckCrl = Crl(_ca, _caKey, revokePck ? [_pck.SerialNumberBytes.ToArray()] : [], number, crlThisUpdate, crlNextUpdate);
        return new LabCollateral(Sign("tcbInfo", tcbInfoBody), Sign("enclaveIdentity", qeIdentityBody), signingChain, crlChain, rootCrl, pckCrl);
    }

    /// <summary>A TCB Info body (version 3). For TDX, <paramref name="identities"/> null leaves <c>tdxModuleIdentities</c> out.</summary>
    public static string TcbInfoBody(bool tdx, DateTimeOffset issueDate, DateTimeOffset nextUpdate, IEnumerable<LabTcbLevel> levels, IEnumerable<LabModuleIdentity>? identities = null)
    {
        ArgumentNullException.ThrowIfNull(levels);
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{(tdx ? "TDX" : "SGX")}\",\"version\":3,\"issueDate\":\"{Date(issueDate)}\",\"nextUpdate\":\"{Date(nextUpdate)}\",");
        b.Append(CultureInfo.InvariantCulture, $"\"fmspc\":\"{Convert.ToHexStringLower(Fmspc)}\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,");
        if (tdx)
        {
            b.Append(CultureInfo.InvariantCulture, $"\"tdxModule\":{{\"mrsigner\":\"{Convert.ToHexString(SeamSigner)}\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"}},");
            if (identities is not null)
            {
                b.Append("\"tdxModuleIdentities\":[");
                b.AppendJoin(',', identities.Select(i =>
                    $"{{\"id\":\"{i.Id}\",\"mrsigner\":\"{Convert.ToHexString(SeamSigner)}\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{IsvLevels(i.Levels)}]}}"));
                b.Append("],");
            }
        }

        b.Append("\"tcbLevels\":[");
        b.AppendJoin(',', levels.Select(l =>
        {
            var tcb = $"\"sgxtcbcomponents\":[{Components(l.Sgx)}],\"pcesvn\":{l.PceSvn}";
            if (l.Tdx is not null)
            {
                tcb += $",\"tdxtcbcomponents\":[{Components(l.Tdx)}]";
            }

            var advisories = l.Status == "UpToDate" ? string.Empty : ",\"advisoryIDs\":[\"INTEL-SA-00001\"]";
            return $"{{\"tcb\":{{{tcb}}},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"{l.Status}\"{advisories}}}";
        }));
        b.Append("]}");
        return b.ToString();
    }

    /// <summary>A QE Identity body (version 2) for the lab QE (<c>QE</c>) or TD QE (<c>TD_QE</c>).</summary>
    public static string QeIdentityBody(bool tdx, DateTimeOffset issueDate, DateTimeOffset nextUpdate, IEnumerable<LabIsvLevel> levels) =>
        $"{{\"id\":\"{(tdx ? "TD_QE" : "QE")}\",\"version\":2,\"issueDate\":\"{Date(issueDate)}\",\"nextUpdate\":\"{Date(nextUpdate)}\"," +
        "\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\"," +
        "\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\"," +
        $"\"mrsigner\":\"{Convert.ToHexString(QeMrSigner)}\",\"isvprodid\":{(tdx ? TdQeProdId : QeProdId)},\"tcbLevels\":[{IsvLevels(levels)}]}}";

    /// <summary>ISO-8601 UTC to the second, as Intel writes dates.</summary>
    public static string Date(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>16 component SVNs whose first bytes are <paramref name="first"/>, the rest zero.</summary>
    public static byte[] Comps(params byte[] first)
    {
        ArgumentNullException.ThrowIfNull(first);
        var c = new byte[16];
        first.CopyTo(c, 0);
        return c;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var d in new IDisposable[] { _root, _ca, _pck, _signing, _rootKey, _caKey, _pckKey, _signingKey, _attestationKey })
        {
            d.Dispose();
        }
    }

    private static string IsvLevels(IEnumerable<LabIsvLevel> levels) =>
        string.Join(',', levels.Select(l => $"{{\"tcb\":{{\"isvsvn\":{l.IsvSvn}}},\"tcbDate\":\"2024-01-01T00:00:00Z\",\"tcbStatus\":\"{l.Status}\"}}"));

    private static string Components(byte[] svns) => string.Join(',', svns.Select(s => $"{{\"svn\":{s}}}"));

    private static DateTimeOffset Seconds(DateTimeOffset t) => DateTimeOffset.FromUnixTimeSeconds(t.ToUnixTimeSeconds());

    private byte[] Quote(int version, uint teeType, ushort? bodyType, byte[] body, ushort qeSvn, ushort qeProdId)
    {
        var q = _attestationKey.ExportParameters(false).Q;
        byte[] key = [.. q.X!, .. q.Y!];
        var auth = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var binding = new byte[64];
        SHA256.HashData([.. key, .. auth]).CopyTo(binding, 0);
        var qeReport = ReportBody(PckComponents, SHA256.HashData("veritee-lab-qe-enclave"u8), QeMrSigner, qeProdId, qeSvn, binding);
        var qeReportSignature = _pckKey.SignData(qeReport, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var chain = Encoding.ASCII.GetBytes(_pck.ExportCertificatePem() + "\n" + _ca.ExportCertificatePem() + "\n" + RootPem);

        var qeBlock = new List<byte>();
        qeBlock.AddRange(qeReport);
        qeBlock.AddRange(qeReportSignature);
        qeBlock.AddRange(U16((ushort)auth.Length));
        qeBlock.AddRange(auth);
        qeBlock.AddRange(U16(5));
        qeBlock.AddRange(U32((uint)chain.Length));
        qeBlock.AddRange(chain);

        var header = new byte[48];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)version);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), teeType);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), qeSvn);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), PceSvn);
        Convert.FromHexString("939A7233F79C4CA9940A0DB3957F0607").CopyTo(header, 12);
        var signed = new List<byte>(header);
        if (bodyType is { } type)
        {
            signed.AddRange(U16(type));
            signed.AddRange(U32((uint)body.Length));
        }

        signed.AddRange(body);
        var signedBytes = signed.ToArray();
        var signature = _attestationKey.SignData(signedBytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var sigData = new List<byte>(signature);
        sigData.AddRange(key);
        if (version == 3)
        {
            sigData.AddRange(qeBlock);
        }
        else
        {
            sigData.AddRange(U16(6));
            sigData.AddRange(U32((uint)qeBlock.Count));
            sigData.AddRange(qeBlock);
        }

        return [.. signedBytes, .. U32((uint)sigData.Count), .. sigData];
    }

    private static byte[] ReportBody(byte[] cpuSvn, byte[] mrEnclave, byte[] mrSigner, ushort prodId, ushort svn, byte[] reportData)
    {
        var r = new byte[384];
        cpuSvn.CopyTo(r, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(48), 0x15);
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(56), 0xE7);
        mrEnclave.CopyTo(r, 64);
        mrSigner.CopyTo(r, 128);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(256), prodId);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(258), svn);
        reportData.CopyTo(r, 320);
        return r;
    }

    private static byte[] U16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return b;
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    private static X509Certificate2 Issue(string cn, ECDsa key, X509Certificate2? issuer, ECDsa issuerKey, DateTimeOffset notBefore, DateTimeOffset notAfter, bool ca, byte[]? sgxExtension)
    {
        var subject = new X500DistinguishedName($"CN={cn}, O=Veritee Lab, L=Santa Clara, S=CA, C=US");
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, false);
        request.CertificateExtensions.Add(issuer is null
            ? X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski)
            : X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        request.CertificateExtensions.Add(ski);
        request.CertificateExtensions.Add(ca
            ? new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true)
            : new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.NonRepudiation, critical: true));
        request.CertificateExtensions.Add(ca ? new X509BasicConstraintsExtension(true, true, issuer is null ? 1 : 0, critical: true) : new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension(["https://lab.veritee.invalid/crl"]));
        if (sgxExtension is not null)
        {
            request.CertificateExtensions.Add(new X509Extension("1.2.840.113741.1.13.1", sgxExtension, critical: false));
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x10);
        using var cert = request.Create(issuer?.SubjectName ?? subject, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore, notAfter, serial);
        return X509CertificateLoader.LoadCertificate(cert.RawData);
    }

    private static byte[] SgxExtension(byte[] components, ushort pceSvn)
    {
        const string Oid = "1.2.840.113741.1.13.1";
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            Pair(w, Oid + ".1", x => x.WriteOctetString(SHA256.HashData("veritee-lab-ppid"u8).AsSpan(0, 16)));
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(Oid + ".2");
                using (w.PushSequence())
                {
                    for (var i = 0; i < 16; i++)
                    {
                        var svn = components[i];
                        Pair(w, $"{Oid}.2.{i + 1}", x => x.WriteInteger(svn));
                    }

                    Pair(w, Oid + ".2.17", x => x.WriteInteger(pceSvn));
                    Pair(w, Oid + ".2.18", x => x.WriteOctetString(components));
                }
            }

            Pair(w, Oid + ".3", x => x.WriteOctetString([0, 0]));
            Pair(w, Oid + ".4", x => x.WriteOctetString(Fmspc));
            Pair(w, Oid + ".5", x => x.WriteEnumeratedValue(LabSgxType.Standard));
        }

        return w.Encode();

        static void Pair(AsnWriter w, string oid, Action<AsnWriter> value)
        {
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(oid);
                value(w);
            }
        }
    }

    private enum LabSgxType
    {
        Standard = 0,
    }

    private static byte[] Crl(X509Certificate2 issuer, ECDsa key, IEnumerable<byte[]> revoked, long number, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var serial in revoked)
        {
            builder.AddEntry(serial, thisUpdate, X509RevocationReason.KeyCompromise);
        }

        using var withKey = issuer.CopyWithPrivateKey(key);
        return builder.Build(withKey, number, nextUpdate, HashAlgorithmName.SHA256, rsaSignaturePadding: null, thisUpdate: thisUpdate);
    }
}

/// <summary>A generated collateral bundle, in the files a collateral folder holds.</summary>
public sealed record LabCollateral(byte[] TcbInfo, byte[] QeIdentity, byte[] SigningChain, byte[] PckCrlIssuerChain, byte[] RootCaCrl, byte[] PckCrl)
{
    /// <summary>Writes the collateral folder layout (<c>tcb_info.json</c>, <c>qe_identity.json</c>, chains, DER CRLs).</summary>
    public void WriteTo(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "tcb_info.json"), TcbInfo);
        File.WriteAllBytes(Path.Combine(folder, "qe_identity.json"), QeIdentity);
        File.WriteAllBytes(Path.Combine(folder, "tcb_info_issuer_chain.pem"), SigningChain);
        File.WriteAllBytes(Path.Combine(folder, "qe_identity_issuer_chain.pem"), SigningChain);
        File.WriteAllBytes(Path.Combine(folder, "pck_crl_issuer_chain.pem"), PckCrlIssuerChain);
        File.WriteAllBytes(Path.Combine(folder, "root_ca_crl.der"), RootCaCrl);
        File.WriteAllBytes(Path.Combine(folder, "pck_crl.der"), PckCrl);
    }
}
