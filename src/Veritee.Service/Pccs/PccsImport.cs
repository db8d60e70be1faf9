using System.Text;
using System.Text.Json;
using Veritee.Dcap.Pccs;
using Veritee.Dcap.X509;

namespace Veritee.Service.Pccs;

/// <summary>
/// <c>PUT /platformcollateral</c>: a <c>platform_collaterals.json</c> (Intel's <c>pcsclient fetch</c> format, docs/pccs.md)
/// imported whole or not at all. Every item is verified first; a shape error is 400, an item that fails verification is
/// 460 (its integrity cannot be verified), each naming the item.
/// </summary>
internal sealed partial class PccsService
{
    private static readonly byte[] FmspcOid = [0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01, 0x04];

    public async Task<int> ImportAsync(JsonElement root, PlatformCollateralFile file, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        var collaterals = Object(root, "collaterals");
        _ = Object(root, "platforms");
        var version = collaterals.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) ? n : 0;
        if (version != 4)
        {
            throw PccsException.BadRequest($"collaterals.version must be 4 (got {(version == 0 ? "none" : version)}); API v3 files are not imported.");
        }

        var certificates = Object(collaterals, "certificates", "collaterals.");
        var pckChains = Object(certificates, "SGX-PCK-Certificate-Issuer-Chain", "collaterals.certificates.");
        var now = clock.GetUtcNow();
        var write = new PccsWrite();

        // PCK issuer chains and the CRLs they sign.
        var chainByCa = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var ca in new[] { "PROCESSOR", "PLATFORM" })
        {
            if (OptionalString(pckChains, ca, "collaterals.certificates.SGX-PCK-Certificate-Issuer-Chain.") is { } chain)
            {
                Integrity(PccsTrust.Chain(Anchor, chain, ca == "PROCESSOR" ? "SGX PCK Processor CA" : "SGX PCK Platform CA", "STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED").Failure, $"certificates.SGX-PCK-Certificate-Issuer-Chain.{ca}");
                chainByCa[ca] = chain;
                write.Items.Add(new PccsItem(KindPckChain, ca, [], chain, now));
            }
        }

        if (collaterals.TryGetProperty("pckcacrl", out var crls) && crls.ValueKind == JsonValueKind.Object)
        {
            foreach (var (key, ca) in new[] { ("processorCrl", "PROCESSOR"), ("platformCrl", "PLATFORM") })
            {
                if (OptionalString(crls, key, "collaterals.pckcacrl.") is { } hex)
                {
                    var der = HexBytes(hex, $"collaterals.pckcacrl.{key}");
                    var chain = chainByCa.GetValueOrDefault(ca) ?? throw PccsException.BadRequest($"collaterals.pckcacrl.{key} needs certificates.SGX-PCK-Certificate-Issuer-Chain.{ca}.");
                    Integrity(PccsTrust.PckCrl(Anchor, der, chain, ca), $"pckcacrl.{key}");
                    write.Items.Add(new PccsItem(KindPckCrl, ca, der, chain, now));
                }
            }
        }

        if (OptionalString(collaterals, "rootcacrl", "collaterals.") is { } rootHex)
        {
            var der = HexBytes(rootHex, "collaterals.rootcacrl");
            Integrity(PccsTrust.RootCrl(Anchor, der), "rootcacrl");
            write.Items.Add(new PccsItem(KindRootCrl, RootKey, der, null, now));
        }

        // TCB Infos (objects: the PCS body as parsed JSON; its exact text is what the signature covers).
        var tcbChain = OptionalString(certificates, "TCB-Info-Issuer-Chain", "collaterals.certificates.");
        var sgxTcbInfos = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (collaterals.TryGetProperty("tcbinfos", out var tcbinfos))
        {
            if (tcbinfos.ValueKind != JsonValueKind.Array)
            {
                throw PccsException.BadRequest("collaterals.tcbinfos must be an array.");
            }

            var i = 0;
            foreach (var entry in tcbinfos.EnumerateArray())
            {
                var where = $"tcbinfos[{i++}]";
                var fmspc = OptionalString(entry, "fmspc", where + ".") is { Length: 12 } f && PccsHttp.IsHex(f) ? f.ToUpperInvariant() : throw PccsException.BadRequest($"{where}.fmspc must be 12 hex digits.");
                foreach (var (key, tee, update) in new[] { ("sgx_tcbinfo", "SGX", "STANDARD"), ("sgx_tcbinfo_early", "SGX", "EARLY"), ("tdx_tcbinfo", "TDX", "STANDARD"), ("tdx_tcbinfo_early", "TDX", "EARLY") })
                {
                    if (!entry.TryGetProperty(key, out var info) || info.ValueKind == JsonValueKind.Null)
                    {
                        continue;
                    }

                    if (info.ValueKind != JsonValueKind.Object)
                    {
                        throw PccsException.BadRequest($"{where}.{key} must be a JSON object.");
                    }

                    var chain = tcbChain ?? throw PccsException.BadRequest("collaterals.certificates.TCB-Info-Issuer-Chain is required with tcbinfos.");
                    // The signature covers Intel's compact bytes; the file's reader re-compacted them (Intel's pcsclient
                    // writes the objects with spaces), so the raw text of this element is not what was signed.
                    var body = CompactTcbInfo(file, fmspc, key) ?? Encoding.UTF8.GetBytes(info.GetRawText());
                    Integrity(PccsTrust.TcbInfo(Anchor, body, chain, tee == "TDX", fmspc), $"{where}.{key}");
                    write.Items.Add(new PccsItem(KindTcb, TcbKey(tee, fmspc, 4, update), body, chain, now));
                    if (tee == "SGX" && (update == "EARLY" || !sgxTcbInfos.ContainsKey(fmspc)))
                    {
                        sgxTcbInfos[fmspc] = body;
                    }
                }
            }
        }

        // Identities (strings: the PCS body verbatim).
        var identityChain = OptionalString(certificates, "SGX-Enclave-Identity-Issuer-Chain", "collaterals.certificates.");
        foreach (var (key, id, update) in new[] { ("qeidentity", "QE", "STANDARD"), ("qeidentity_early", "QE", "EARLY"), ("qveidentity", "QVE", "STANDARD"), ("qveidentity_early", "QVE", "EARLY"), ("tdqeidentity", "TD_QE", "STANDARD"), ("tdqeidentity_early", "TD_QE", "EARLY") })
        {
            if (OptionalString(collaterals, key, "collaterals.") is { } text)
            {
                var chain = identityChain ?? throw PccsException.BadRequest("collaterals.certificates.SGX-Enclave-Identity-Issuer-Chain is required with identities.");
                var body = Encoding.UTF8.GetBytes(text);
                Integrity(PccsTrust.Identity(Anchor, body, chain, id), key);
                write.Items.Add(new PccsItem(KindIdentity, IdentityKey(id, 4, update), body, chain, now));
            }
        }

        // Platforms and their certificates.
        var platformTcbs = new List<PccsRawTcb>();
        foreach (var p in root.GetProperty("platforms").EnumerateArray())
        {
            if (OptionalString(p, "qe_id", "platforms[].") is { } qe && OptionalString(p, "pce_id", "platforms[].") is { } pce &&
                OptionalString(p, "cpu_svn", "platforms[].") is { Length: 32 } cpu && OptionalString(p, "pce_svn", "platforms[].") is { Length: 4 } svn &&
                PccsHttp.IsHex(cpu) && PccsHttp.IsHex(svn))
            {
                platformTcbs.Add(new PccsRawTcb(qe.ToUpperInvariant(), pce.ToUpperInvariant(), cpu.ToUpperInvariant(), svn.ToUpperInvariant()));
            }
        }

        var imported = 0;
        if (collaterals.TryGetProperty("pck_certs", out var pckCerts))
        {
            if (pckCerts.ValueKind != JsonValueKind.Array)
            {
                throw PccsException.BadRequest("collaterals.pck_certs must be an array.");
            }

            var i = 0;
            foreach (var platform in pckCerts.EnumerateArray())
            {
                var where = $"pck_certs[{i++}]";
                var qeId = OptionalString(platform, "qe_id", where + ".") is { Length: >= 1 and <= 260 } q ? q.ToUpperInvariant() : throw PccsException.BadRequest($"{where}.qe_id must be 1 to 260 characters.");
                var pceId = OptionalString(platform, "pce_id", where + ".") is { Length: 4 } pc && PccsHttp.IsHex(pc) ? pc.ToUpperInvariant() : throw PccsException.BadRequest($"{where}.pce_id must be 4 hex digits.");
                var encPpid = OptionalString(platform, "enc_ppid", where + ".") is { Length: > 0 } e ? e.ToUpperInvariant() : null;
                var manifest = OptionalString(platform, "platform_manifest", where + ".") is { Length: > 0 } m ? m.ToUpperInvariant() : null;
                if (!platform.TryGetProperty("certs", out var certs) || certs.ValueKind != JsonValueKind.Array)
                {
                    throw PccsException.BadRequest($"{where}.certs must be an array.");
                }

                IReadOnlyList<PckCertificateEntry> entries;
                try
                {
                    entries = PcsPckCertificates.Parse(Encoding.UTF8.GetBytes(certs.GetRawText()));
                }
                catch (Exception ex) when (ex is Veritee.Dcap.DcapFormatException or FormatException or ArgumentException)
                {
                    throw PccsException.BadRequest($"{where}.certs: {ex.Message}");
                }

                if (entries.Count == 0 || entries.Any(x => x.CertificatePem is null))
                {
                    throw PccsException.BadRequest($"{where}.certs must list at least one certificate and no \"Not available\" level.");
                }

                var (fmspc, ca) = FmspcAndCa(entries[0].CertificatePem!, where);
                var chain = chainByCa.GetValueOrDefault(ca) ?? throw PccsException.BadRequest($"{where}: its certificates are issued by the {ca} CA, but certificates.SGX-PCK-Certificate-Issuer-Chain.{ca} is missing.");
                Integrity(PccsTrust.PckCertificates(Anchor, entries, chain), where);
                var tcbInfo = sgxTcbInfos.GetValueOrDefault(fmspc) ?? throw PccsException.BadRequest($"{where}: no tcbinfos entry with an SGX TCB Info for its FMSPC {fmspc}.");
                var stored = entries.Select(x => new PccsPckCert(x.Tcbm.ToUpperInvariant(), FormatTcb(x.Tcb), NormalizePem(x.CertificatePem!))).ToList();
                write.Platforms.Add((new PccsPlatform(qeId, pceId, manifest is null ? encPpid : null, manifest, fmspc, ca, now), stored));
                var known = (await store.ListRawTcbsAsync(qeId, pceId, cancellationToken).ConfigureAwait(false)).Select(k => k.Raw);
                foreach (var raw in known.Concat(platformTcbs.Where(r => r.QeId == qeId && r.PceId == pceId)).Distinct())
                {
                    var chosen = Select(raw, stored, tcbInfo, out var failure) ?? throw PccsException.BadRequest($"{where}: no certificate can be selected for cpu_svn {raw.CpuSvn}, pce_svn {raw.PceSvn}: {failure}");
                    write.PlatformTcbs.Add((raw, chosen.Tcbm));
                }

                imported++;
            }
        }

        await store.ApplyAsync(write, cancellationToken).ConfigureAwait(false);
        return imported;
    }

    /// <summary>FMSPC (from the SGX extension) and CA (from the issuer's name) of a PCK certificate.</summary>
    private static (string Fmspc, string Ca) FmspcAndCa(string pem, string where)
    {
        try
        {
            var cert = DcapCertificate.Parse(Pem.DecodeCertificates(Encoding.ASCII.GetBytes(pem))[0]);
            var ca = cert.IssuerCommonName.Contains("Platform", StringComparison.Ordinal) ? "PLATFORM"
                : cert.IssuerCommonName.Contains("Processor", StringComparison.Ordinal) ? "PROCESSOR"
                : throw PccsException.BadRequest($"{where}: issued by '{cert.IssuerCommonName}', not a PCK CA.");

            // The FMSPC extension: its OID, then an OCTET STRING of 6 bytes.
            var extension = (cert.SgxExtension ?? throw PccsException.BadRequest($"{where}: the certificate has no SGX extension.")).Span;
            var at = extension.IndexOf(FmspcOid);
            if (at < 0 || at + FmspcOid.Length + 8 > extension.Length || extension[at + FmspcOid.Length] != 0x04 || extension[at + FmspcOid.Length + 1] != 6)
            {
                throw PccsException.BadRequest($"{where}: the certificate's SGX extension has no FMSPC.");
            }

            return (Convert.ToHexString(extension.Slice(at + FmspcOid.Length + 2, 6)), ca);
        }
        catch (Exception e) when (e is FormatException or Veritee.Dcap.DcapFormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw PccsException.BadRequest($"{where}: the certificate is unreadable: {e.Message}");
        }
    }

    private static JsonElement Object(JsonElement parent, string name, string prefix = "") =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.Object or JsonValueKind.Array
            ? value
            : throw PccsException.BadRequest($"{prefix}{name} is required.");

    private static string? OptionalString(JsonElement parent, string name, string prefix) =>
        parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.String ? value.GetString()
        : throw PccsException.BadRequest($"{prefix}{name} must be a string.");

    private static byte[] HexBytes(string hex, string what) =>
        hex.Length % 2 == 0 && PccsHttp.IsHex(hex) ? Convert.FromHexString(hex) : throw PccsException.BadRequest($"{what} must be hex.");

    /// <summary>An item that fails verification: 460, naming it.</summary>
    private static void Integrity(string? failure, string what)
    {
        if (failure is not null)
        {
            throw new PccsException(460, $"{what}: {failure}");
        }
    }

    private static byte[]? CompactTcbInfo(PlatformCollateralFile file, string fmspc, string key)
    {
        var infos = file.TcbInfos.FirstOrDefault(t => t.Fmspc.Equals(fmspc, StringComparison.OrdinalIgnoreCase));
        return infos is null ? null : key switch
        {
            "sgx_tcbinfo" => infos.Sgx,
            "sgx_tcbinfo_early" => infos.SgxEarly,
            "tdx_tcbinfo" => infos.Tdx,
            "tdx_tcbinfo_early" => infos.TdxEarly,
            _ => null,
        };
    }
}
