using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Veritee.Sgx;

namespace Veritee.Dcap.Pccs;

/// <summary>One platform's PCK certificates in <c>platform_collaterals.json</c> (<c>collaterals.pck_certs[]</c>).</summary>
/// <param name="QeId">QE ID as in the platform list.</param>
/// <param name="PceId">PCE ID, 4 hex.</param>
/// <param name="EncPpid">Encrypted PPID hex, or empty.</param>
/// <param name="PlatformManifest">Platform manifest hex, or empty.</param>
/// <param name="Certificates">The certificate set (PEM decoded; null certificate = "Not available").</param>
public sealed record PlatformPckCertificates(string QeId, string PceId, string EncPpid, string PlatformManifest, IReadOnlyList<PckCertificateEntry> Certificates);

/// <summary>
/// The TCB Infos of one FMSPC in <c>collaterals.tcbinfos[]</c>: each the PCS response object
/// <c>{"tcbInfo":{…},"signature":"…"}</c> as compact JSON bytes (the bytes its signature covers for Intel's compact
/// output), or null when the file has none.
/// </summary>
/// <param name="Fmspc">FMSPC, 12 hex.</param>
/// <param name="Sgx">SGX TCB Info, standard update.</param>
/// <param name="Tdx">TDX TCB Info, standard update.</param>
/// <param name="SgxEarly">SGX TCB Info, early update.</param>
/// <param name="TdxEarly">TDX TCB Info, early update.</param>
public sealed record FmspcTcbInfos(string Fmspc, byte[]? Sgx, byte[]? Tdx, byte[]? SgxEarly, byte[]? TdxEarly);

/// <summary>
/// <c>platform_collaterals.json</c> (Intel's format): what <c>pcsclient fetch</c> / <c>veritee pccs fetch</c> write on
/// a connected machine and <c>PUT /platformcollateral</c> imports into an offline PCCS. API v4 (<c>version</c> 4) and
/// v3 (keys <c>tcbinfo</c>/<c>tcbinfo_early</c>, <c>SGX-TCB-Info-Issuer-Chain</c>) read and write. Issuer chains are
/// kept as their percent-encoded header values (checked to decode); CRLs are DER; identities are the raw JSON bytes.
/// Nothing here is verified cryptographically: that is <c>PccsIngest</c>'s job.
/// </summary>
public sealed class PlatformCollateralFile
{
    /// <summary>Largest accepted file: 256 MiB (thousands of platforms at ~60 KiB each).</summary>
    public const int MaxBytes = 256 * 1024 * 1024;

    /// <summary>Largest accepted CRL, identity or TCB Info (the largest Intel CRL is a few KiB, a TDX TCB Info ~15 KiB).</summary>
    public const int MaxItemBytes = 4 * 1024 * 1024;

    /// <summary>Most FMSPCs in <c>tcbinfos</c>.</summary>
    public const int MaxFmspcs = 10_000;

    /// <summary>The header names of the <c>certificates</c> object.</summary>
    public const string PckIssuerChainKey = "SGX-PCK-Certificate-Issuer-Chain";

    /// <summary>The v4 TCB Info chain key (v3: <c>SGX-TCB-Info-Issuer-Chain</c>).</summary>
    public const string TcbInfoIssuerChainKey = "TCB-Info-Issuer-Chain";

    /// <summary>The enclave identity chain key.</summary>
    public const string EnclaveIdentityIssuerChainKey = "SGX-Enclave-Identity-Issuer-Chain";

    private const string V3TcbInfoIssuerChainKey = "SGX-TCB-Info-Issuer-Chain";

    /// <summary>PCS API version of the file: 4 or 3.</summary>
    public int Version { get; init; } = 4;

    /// <summary><c>platforms</c>: the platform list the file was fetched for.</summary>
    public IReadOnlyList<PlatformEntry> Platforms { get; init; } = [];

    /// <summary><c>collaterals.pck_certs</c>.</summary>
    public IReadOnlyList<PlatformPckCertificates> PckCertificates { get; init; } = [];

    /// <summary><c>collaterals.tcbinfos</c>.</summary>
    public IReadOnlyList<FmspcTcbInfos> TcbInfos { get; init; } = [];

    /// <summary><c>collaterals.pckcacrl.processorCrl</c> (DER).</summary>
    public byte[]? ProcessorCrl { get; init; }

    /// <summary><c>collaterals.pckcacrl.platformCrl</c> (DER).</summary>
    public byte[]? PlatformCrl { get; init; }

    /// <summary><c>qeidentity</c> (raw JSON bytes).</summary>
    public byte[]? QeIdentity { get; init; }

    /// <summary><c>tdqeidentity</c>.</summary>
    public byte[]? TdQeIdentity { get; init; }

    /// <summary><c>qveidentity</c>.</summary>
    public byte[]? QveIdentity { get; init; }

    /// <summary><c>qeidentity_early</c>.</summary>
    public byte[]? QeIdentityEarly { get; init; }

    /// <summary><c>tdqeidentity_early</c>.</summary>
    public byte[]? TdQeIdentityEarly { get; init; }

    /// <summary><c>qveidentity_early</c>.</summary>
    public byte[]? QveIdentityEarly { get; init; }

    /// <summary><c>certificates["SGX-PCK-Certificate-Issuer-Chain"].PROCESSOR</c> (percent-encoded).</summary>
    public string? PckIssuerChainProcessor { get; init; }

    /// <summary><c>certificates["SGX-PCK-Certificate-Issuer-Chain"].PLATFORM</c> (percent-encoded).</summary>
    public string? PckIssuerChainPlatform { get; init; }

    /// <summary><c>certificates["TCB-Info-Issuer-Chain"]</c> (v3 <c>SGX-TCB-Info-Issuer-Chain</c>; percent-encoded).</summary>
    public string? TcbInfoIssuerChain { get; init; }

    /// <summary><c>certificates["SGX-Enclave-Identity-Issuer-Chain"]</c> (percent-encoded).</summary>
    public string? EnclaveIdentityIssuerChain { get; init; }

    /// <summary><c>rootcacrl</c> (DER).</summary>
    public byte[]? RootCaCrl { get; init; }

    /// <summary><c>rootcacrl_cdp</c>: the root CA CRL's distribution point URL.</summary>
    public string? RootCaCrlCdp { get; init; }

    /// <summary>Reads a file; throws <see cref="DcapFormatException"/> naming the item (e.g. <c>collaterals.tcbinfos[2].sgx_tcbinfo</c>).</summary>
    public static PlatformCollateralFile Read(ReadOnlySpan<byte> json)
    {
        using var doc = PccsJson.Parse(json, MaxBytes, "platform collateral file");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"platform collateral file: must be a JSON object, got {root.ValueKind}");
        }

        var platforms = PlatformListFile.ReadArray(PccsJson.Required(root, "platforms", "platform collateral file"), "platforms");
        const string C = "collaterals";
        var c = PccsJson.Required(root, C, "platform collateral file");
        if (c.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{C}: must be an object");
        }

        var versionJson = PccsJson.Required(c, "version", C);
        if (versionJson.ValueKind != JsonValueKind.Number || !versionJson.TryGetInt32(out var version) || version is not (3 or 4))
        {
            throw new DcapFormatException($"{C}.version: must be 3 or 4, got {Short(versionJson.GetRawText())}");
        }

        var pckCerts = ReadPckCerts(PccsJson.Required(c, "pck_certs", C));
        var tcbInfos = ReadTcbInfos(PccsJson.Required(c, "tcbinfos", C), version);
        var certificates = PccsJson.Required(c, "certificates", C);
        if (certificates.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{C}.certificates: must be an object");
        }

        var pckChains = PccsJson.Required(certificates, PckIssuerChainKey, C + ".certificates");
        if (pckChains.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{C}.certificates.{PckIssuerChainKey}: must be an object with PROCESSOR and/or PLATFORM");
        }

        var crls = c.TryGetProperty("pckcacrl", out var crlJson) && crlJson.ValueKind != JsonValueKind.Null ? crlJson : default;
        if (crls.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object))
        {
            throw new DcapFormatException($"{C}.pckcacrl: must be an object");
        }

        return new PlatformCollateralFile
        {
            Version = version,
            Platforms = platforms,
            PckCertificates = pckCerts,
            TcbInfos = tcbInfos,
            ProcessorCrl = crls.ValueKind == JsonValueKind.Object ? PccsJson.OptionalHex(crls, "processorCrl", C + ".pckcacrl", MaxItemBytes) : null,
            PlatformCrl = crls.ValueKind == JsonValueKind.Object ? PccsJson.OptionalHex(crls, "platformCrl", C + ".pckcacrl", MaxItemBytes) : null,
            QeIdentity = Identity(c, "qeidentity"),
            TdQeIdentity = Identity(c, "tdqeidentity"),
            QveIdentity = Identity(c, "qveidentity"),
            QeIdentityEarly = Identity(c, "qeidentity_early"),
            TdQeIdentityEarly = Identity(c, "tdqeidentity_early"),
            QveIdentityEarly = Identity(c, "qveidentity_early"),
            PckIssuerChainProcessor = Chain(pckChains, "PROCESSOR", $"{C}.certificates.{PckIssuerChainKey}"),
            PckIssuerChainPlatform = Chain(pckChains, "PLATFORM", $"{C}.certificates.{PckIssuerChainKey}"),
            TcbInfoIssuerChain = Chain(certificates, version == 4 ? TcbInfoIssuerChainKey : V3TcbInfoIssuerChainKey, C + ".certificates"),
            EnclaveIdentityIssuerChain = Chain(certificates, EnclaveIdentityIssuerChainKey, C + ".certificates"),
            RootCaCrl = PccsJson.OptionalHex(c, "rootcacrl", C, MaxItemBytes),
            RootCaCrlCdp = PccsJson.OptionalString(c, "rootcacrl_cdp", C),
        };
    }

    /// <summary>Writes the file in Intel's shape (TCB Infos as JSON objects, identities as strings, CRLs as lower-case hex).</summary>
    public byte[] Write() => PccsJson.Write(w =>
    {
        w.WriteStartObject();
        w.WriteStartArray("platforms");
        foreach (var p in Platforms)
        {
            p.Write(w);
        }

        w.WriteEndArray();
        w.WriteStartObject("collaterals");
        w.WriteNumber("version", Version);
        w.WriteStartArray("pck_certs");
        foreach (var p in PckCertificates)
        {
            w.WriteStartObject();
            w.WriteString("qe_id", p.QeId);
            w.WriteString("pce_id", p.PceId);
            w.WriteString("enc_ppid", p.EncPpid);
            w.WriteString("platform_manifest", p.PlatformManifest);
            w.WriteStartArray("certs");
            foreach (var cert in p.Certificates)
            {
                PcsPckCertificates.WriteEntry(w, cert);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("tcbinfos");
        foreach (var t in TcbInfos)
        {
            w.WriteStartObject();
            w.WriteString("fmspc", t.Fmspc);
            WriteRaw(w, Version == 4 ? "sgx_tcbinfo" : "tcbinfo", t.Sgx);
            WriteRaw(w, "tdx_tcbinfo", Version == 4 ? t.Tdx : null);
            WriteRaw(w, Version == 4 ? "sgx_tcbinfo_early" : "tcbinfo_early", t.SgxEarly);
            WriteRaw(w, "tdx_tcbinfo_early", Version == 4 ? t.TdxEarly : null);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("pckcacrl");
        WriteHex(w, "processorCrl", ProcessorCrl);
        WriteHex(w, "platformCrl", PlatformCrl);
        w.WriteEndObject();
        WriteText(w, "qeidentity", QeIdentity);
        WriteText(w, "tdqeidentity", TdQeIdentity);
        WriteText(w, "qveidentity", QveIdentity);
        WriteText(w, "qeidentity_early", QeIdentityEarly);
        WriteText(w, "tdqeidentity_early", TdQeIdentityEarly);
        WriteText(w, "qveidentity_early", QveIdentityEarly);
        w.WriteStartObject("certificates");
        w.WriteStartObject(PckIssuerChainKey);
        if (PckIssuerChainProcessor is not null)
        {
            w.WriteString("PROCESSOR", PckIssuerChainProcessor);
        }

        if (PckIssuerChainPlatform is not null)
        {
            w.WriteString("PLATFORM", PckIssuerChainPlatform);
        }

        w.WriteEndObject();
        if (TcbInfoIssuerChain is not null)
        {
            w.WriteString(Version == 4 ? TcbInfoIssuerChainKey : V3TcbInfoIssuerChainKey, TcbInfoIssuerChain);
        }

        if (EnclaveIdentityIssuerChain is not null)
        {
            w.WriteString(EnclaveIdentityIssuerChainKey, EnclaveIdentityIssuerChain);
        }

        w.WriteEndObject();
        WriteHex(w, "rootcacrl", RootCaCrl);
        if (RootCaCrlCdp is not null)
        {
            w.WriteString("rootcacrl_cdp", RootCaCrlCdp);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>
    /// A JSON value as compact bytes in its original key order, escaping only what JSON requires (as JavaScript's
    /// <c>JSON.stringify</c> does, which is how Intel's PCCS stores an imported TCB Info): for Intel's compact PCS output
    /// these are the exact signed bytes.
    /// </summary>
    internal static byte[] Compact(JsonElement value)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            value.WriteTo(writer);
        }

        return stream.ToArray();
    }

    private static List<PlatformPckCertificates> ReadPckCerts(JsonElement array)
    {
        const string What = "collaterals.pck_certs";
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new DcapFormatException($"{What}: must be an array");
        }

        if (array.GetArrayLength() > PlatformListFile.MaxPlatforms)
        {
            throw new DcapFormatException($"{What}: {array.GetArrayLength()} platforms exceed the limit of {PlatformListFile.MaxPlatforms}");
        }

        var list = new List<PlatformPckCertificates>();
        foreach (var e in array.EnumerateArray())
        {
            var what = $"{What}[{list.Count}]";
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new DcapFormatException($"{what}: must be an object");
            }

            var certsJson = PccsJson.Required(e, "certs", what);
            if (certsJson.ValueKind != JsonValueKind.Array || certsJson.GetArrayLength() > PcsPckCertificates.MaxEntries)
            {
                throw new DcapFormatException($"{what}.certs: must be an array of at most {PcsPckCertificates.MaxEntries} entries");
            }

            var certs = new List<PckCertificateEntry>();
            foreach (var cert in certsJson.EnumerateArray())
            {
                certs.Add(PcsPckCertificates.ReadEntry(cert, $"{what}.certs[{certs.Count}]"));
            }

            var entry = new PlatformEntry(PccsJson.String(e, "qe_id", what), PccsJson.String(e, "pce_id", what), "", "",
                PccsJson.OptionalString(e, "enc_ppid", what) ?? "", PccsJson.OptionalString(e, "platform_manifest", what) ?? "");
            if (entry.QeId.Length is 0 or > PlatformEntry.MaxQeIdChars || entry.PceId.Length != 4 || !PlatformEntry.IsHex(entry.PceId))
            {
                throw new DcapFormatException($"{what}: qe_id must be 1 to {PlatformEntry.MaxQeIdChars} characters and pce_id 4 hex digits");
            }

            if (entry.EncPpid.Length > 768 || entry.PlatformManifest.Length > PlatformEntry.MaxManifestChars)
            {
                throw new DcapFormatException($"{what}: enc_ppid or platform_manifest too long");
            }

            list.Add(new PlatformPckCertificates(entry.QeId, entry.PceId, entry.EncPpid, entry.PlatformManifest, certs));
        }

        return list;
    }

    private static List<FmspcTcbInfos> ReadTcbInfos(JsonElement array, int version)
    {
        const string What = "collaterals.tcbinfos";
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new DcapFormatException($"{What}: must be an array");
        }

        if (array.GetArrayLength() > MaxFmspcs)
        {
            throw new DcapFormatException($"{What}: {array.GetArrayLength()} FMSPCs exceed the limit of {MaxFmspcs}");
        }

        var list = new List<FmspcTcbInfos>();
        foreach (var e in array.EnumerateArray())
        {
            var what = $"{What}[{list.Count}]";
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new DcapFormatException($"{what}: must be an object");
            }

            var fmspc = PccsJson.String(e, "fmspc", what);
            if (fmspc.Length != 12 || !PlatformEntry.IsHex(fmspc))
            {
                throw new DcapFormatException($"{what}.fmspc: must be 12 hex digits, got {fmspc.Length} characters");
            }

            list.Add(version == 4
                ? new FmspcTcbInfos(fmspc, TcbInfo(e, "sgx_tcbinfo", what), TcbInfo(e, "tdx_tcbinfo", what), TcbInfo(e, "sgx_tcbinfo_early", what), TcbInfo(e, "tdx_tcbinfo_early", what))
                : new FmspcTcbInfos(fmspc, TcbInfo(e, "tcbinfo", what), null, TcbInfo(e, "tcbinfo_early", what), null));
        }

        return list;
    }

    private static byte[]? TcbInfo(JsonElement obj, string name, string what)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new DcapFormatException($"{what}.{name}: must be a JSON object (the PCS TCB Info response), got {value.ValueKind}");
        }

        var bytes = Compact(value);
        return bytes.Length <= MaxItemBytes ? bytes : throw new DcapFormatException($"{what}.{name}: {bytes.Length} bytes exceed the limit of {MaxItemBytes}");
    }

    private static byte[]? Identity(JsonElement c, string name)
    {
        var text = PccsJson.OptionalString(c, name, "collaterals");
        if (text is null)
        {
            return null;
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length <= MaxItemBytes ? bytes : throw new DcapFormatException($"collaterals.{name}: {bytes.Length} bytes exceed the limit of {MaxItemBytes}");
    }

    private static string? Chain(JsonElement obj, string name, string what)
    {
        var value = PccsJson.OptionalString(obj, name, what);
        if (value is null)
        {
            return null;
        }

        try
        {
            IssuerChainHeader.Decode(value);
        }
        catch (DcapFormatException e)
        {
            throw new DcapFormatException($"{what}.{name}: {e.Message}", e);
        }

        return value;
    }

    private static void WriteRaw(Utf8JsonWriter w, string name, byte[]? json)
    {
        if (json is not null)
        {
            w.WritePropertyName(name);
            w.WriteRawValue(json, skipInputValidation: false);
        }
    }

    private static void WriteHex(Utf8JsonWriter w, string name, byte[]? bytes)
    {
        if (bytes is not null)
        {
            w.WriteString(name, Hex.Lower(bytes));
        }
    }

    private static void WriteText(Utf8JsonWriter w, string name, byte[]? utf8)
    {
        if (utf8 is not null)
        {
            w.WriteString(name, Encoding.UTF8.GetString(utf8));
        }
    }

    private static string Short(string text) => text.Length <= 32 ? text : text[..32] + "…";
}
