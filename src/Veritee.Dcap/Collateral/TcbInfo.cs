using System.Text.Json;
using static Veritee.Dcap.Collateral.JsonFields;

namespace Veritee.Dcap.Collateral;

/// <summary>One TCB level of a TCB Info.</summary>
public sealed record TcbLevel(
    byte[] SgxComponents,
    ushort PceSvn,
    byte[]? TdxComponents,
    DateTimeOffset TcbDate,
    string TcbStatusText,
    IReadOnlyList<string> AdvisoryIds)
{
    /// <summary>The parsed status; null when Intel's string is not one QVL knows.</summary>
    public TcbStatus? Status { get; } = TcbStatuses.Parse(TcbStatusText);
}

/// <summary>The TDX module identity (<c>tdxModule</c> or an entry of <c>tdxModuleIdentities</c>).</summary>
public sealed record TdxModuleIdentity(string Id, byte[] MrSigner, byte[] Attributes, byte[] AttributesMask, IReadOnlyList<EnclaveTcbLevel> TcbLevels);

/// <summary>
/// TCB Info in Intel PCS wire form, version 2 (SGX) or 3 (SGX and TDX). Levels are kept in Intel QVL's order
/// (descending by SGX components, then PCESVN, then TDX components), which is the order PCS publishes.
/// </summary>
public sealed class TcbInfo
{
    private TcbInfo()
    {
    }

    /// <summary><c>SGX</c> or <c>TDX</c> (version 2 has no id and is SGX).</summary>
    public required string Id { get; init; }

    /// <summary>2 or 3.</summary>
    public required int Version { get; init; }

    /// <summary>issueDate.</summary>
    public required DateTimeOffset IssueDate { get; init; }

    /// <summary>nextUpdate.</summary>
    public required DateTimeOffset NextUpdate { get; init; }

    /// <summary>FMSPC (6 bytes).</summary>
    public required byte[] Fmspc { get; init; }

    /// <summary>PCE-ID (2 bytes).</summary>
    public required byte[] PceId { get; init; }

    /// <summary>tcbType (always 0).</summary>
    public required int TcbType { get; init; }

    /// <summary>tcbEvaluationDataNumber.</summary>
    public required long TcbEvaluationDataNumber { get; init; }

    /// <summary>TDX only: <c>tdxModule</c>.</summary>
    public TdxModuleIdentity? TdxModule { get; init; }

    /// <summary>TDX only, optional: <c>tdxModuleIdentities</c>.</summary>
    public IReadOnlyList<TdxModuleIdentity>? TdxModuleIdentities { get; init; }

    /// <summary>TCB levels, best first.</summary>
    public required IReadOnlyList<TcbLevel> TcbLevels { get; init; }

    /// <summary>The signed <c>tcbInfo</c> body bytes.</summary>
    public required ReadOnlyMemory<byte> SignedBody { get; init; }

    /// <summary>The signature (raw r‖s).</summary>
    public required byte[] Signature { get; init; }

    /// <summary>True for a TDX TCB Info.</summary>
    public bool IsTdx => Id == "TDX";

    /// <summary>Parses the full wire form <c>{"tcbInfo":{…},"signature":"…"}</c>.</summary>
    public static TcbInfo Parse(ReadOnlyMemory<byte> json)
    {
        const string What = "TCB Info";
        var (body, signature) = SignedJson.Split(json, "tcbInfo", What);
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { AllowDuplicateProperties = false });
            return FromBody(doc.RootElement, body, signature);
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"{What}: malformed JSON: {e.Message}", e);
        }
    }

    private static TcbInfo FromBody(JsonElement root, ReadOnlyMemory<byte> body, byte[] signature)
    {
        const string What = "TCB Info";
        var version = (int)Integer(root, "version", What, 0, int.MaxValue);
        if (version is not (2 or 3))
        {
            throw new DcapFormatException($"{What}: version {version} is not supported (2 or 3)");
        }

        var id = version == 2 ? "SGX" : String(root, "id", What);
        if (id is not ("SGX" or "TDX"))
        {
            throw new DcapFormatException($"{What}: id \"{id}\" is not SGX or TDX");
        }

        var tcbType = (int)Integer(root, "tcbType", What, 0, int.MaxValue);
        if (tcbType != 0)
        {
            throw new DcapFormatException($"{What}: tcbType {tcbType} is not supported (0)");
        }

        var isTdx = id == "TDX";
        var hasModule = root.TryGetProperty("tdxModule", out var moduleJson);
        var hasIdentities = root.TryGetProperty("tdxModuleIdentities", out var identitiesJson);
        if (!isTdx && (hasModule || hasIdentities))
        {
            throw new DcapFormatException($"{What}: an SGX TCB Info must not carry tdxModule fields");
        }

        if (isTdx && !hasModule)
        {
            throw new DcapFormatException($"{What}: a TDX TCB Info must carry tdxModule");
        }

        TdxModuleIdentity? module = hasModule ? ReadModule(moduleJson, "tdxModule", withLevels: false) : null;
        List<TdxModuleIdentity>? identities = null;
        if (hasIdentities)
        {
            // QVL: present but not a non-empty array is invalid content; absent is an empty list (see QuoteVerifier).
            if (identitiesJson.ValueKind != JsonValueKind.Array || identitiesJson.GetArrayLength() == 0)
            {
                throw new DcapFormatException($"{What}: tdxModuleIdentities must be a non-empty array") { IsInvalidContent = true };
            }

            identities = [.. identitiesJson.EnumerateArray().Select(e => ReadModule(e, String(e, "id", What + " tdxModuleIdentities"), withLevels: true))];
        }

        var levelsJson = Required(root, "tcbLevels", What);
        if (levelsJson.ValueKind != JsonValueKind.Array || levelsJson.GetArrayLength() == 0)
        {
            throw new DcapFormatException($"{What}: tcbLevels must be a non-empty array");
        }

        var levels = new List<TcbLevel>();
        foreach (var levelJson in levelsJson.EnumerateArray())
        {
            levels.Add(ReadLevel(levelJson, version, isTdx, levels.Count));
        }

        // Intel QVL keeps levels in a set ordered by (SGX components, PCESVN, TDX components), best first; a level
        // equal to another is refused as invalid content (QVL: "Detected duplicated TCB levels", STATUS_SGX_TCB_INFO_INVALID).
        var ordered = levels.OrderByDescending(l => l, LevelComparer.Instance).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (LevelComparer.Instance.Compare(ordered[i - 1], ordered[i]) == 0)
            {
                throw new DcapFormatException($"{What}: duplicate TCB level (tcbLevels hold two levels with the same components and PCESVN)") { IsInvalidContent = true };
            }
        }

        return new TcbInfo
        {
            Id = id,
            Version = version,
            IssueDate = Date(root, "issueDate", What),
            NextUpdate = Date(root, "nextUpdate", What),
            Fmspc = HexBytes(root, "fmspc", 6, What),
            PceId = HexBytes(root, "pceId", 2, What),
            TcbType = tcbType,
            TcbEvaluationDataNumber = Integer(root, "tcbEvaluationDataNumber", What, 0, uint.MaxValue),
            TdxModule = module,
            TdxModuleIdentities = identities,
            TcbLevels = ordered,
            SignedBody = body,
            Signature = signature,
        };
    }

    private static TdxModuleIdentity ReadModule(JsonElement json, string id, bool withLevels)
    {
        var what = "TCB Info " + id;
        var levels = new List<EnclaveTcbLevel>();
        if (withLevels)
        {
            var levelsJson = Required(json, "tcbLevels", what);
            if (levelsJson.ValueKind != JsonValueKind.Array || levelsJson.GetArrayLength() == 0)
            {
                throw new DcapFormatException($"{what}: tcbLevels must be a non-empty array");
            }

            foreach (var level in levelsJson.EnumerateArray())
            {
                levels.Add(EnclaveTcbLevel.Read(level, what));
            }

            // QVL keeps module levels in a set ordered by isvsvn, highest first (the module and relaunch checks rely on
            // that order, not on the JSON's), and refuses two levels with the same isvsvn with its FormatException,
            // which it reports as STATUS_SGX_TCB_INFO_UNSUPPORTED_FORMAT (so not marked invalid content; checked
            // against QVL itself with tools/qvl-diff).
            levels.Sort((a, b) => b.IsvSvn.CompareTo(a.IsvSvn));
            for (var i = 1; i < levels.Count; i++)
            {
                if (levels[i - 1].IsvSvn == levels[i].IsvSvn)
                {
                    throw new DcapFormatException($"{what}: duplicate TCB level (two levels with isvsvn {levels[i].IsvSvn})");
                }
            }
        }

        return new TdxModuleIdentity(id, HexBytes(json, "mrsigner", 48, what), HexBytes(json, "attributes", 8, what), HexBytes(json, "attributesMask", 8, what), levels);
    }

    private static TcbLevel ReadLevel(JsonElement level, int version, bool isTdx, int index)
    {
        var what = $"TCB Info tcbLevels[{index}]";
        var tcb = Required(level, "tcb", what);
        var sgx = new byte[16];
        byte[]? tdx = null;
        if (version == 2)
        {
            for (var i = 0; i < 16; i++)
            {
                sgx[i] = (byte)Integer(tcb, $"sgxtcbcomp{i + 1:D2}svn", what, 0, 255);
            }
        }
        else
        {
            ReadComponents(Required(tcb, "sgxtcbcomponents", what), sgx, what + ".sgxtcbcomponents");
            if (isTdx)
            {
                tdx = new byte[16];
                ReadComponents(Required(tcb, "tdxtcbcomponents", what), tdx, what + ".tdxtcbcomponents");
            }
        }

        var status = String(level, "tcbStatus", what);
        if (TcbStatuses.Parse(status) is not (TcbStatus.UpToDate or TcbStatus.SWHardeningNeeded or TcbStatus.ConfigurationNeeded or
            TcbStatus.ConfigurationAndSWHardeningNeeded or TcbStatus.OutOfDate or TcbStatus.OutOfDateConfigurationNeeded or TcbStatus.Revoked))
        {
            // QVL's TcbLevel parser accepts only these seven and refuses the TCB Info as invalid otherwise.
            throw new DcapFormatException($"{what}: tcbStatus \"{status}\" is not a TCB Info status") { IsInvalidContent = true };
        }

        return new TcbLevel(sgx, (ushort)Integer(tcb, "pcesvn", what, 0, ushort.MaxValue), tdx,
            Date(level, "tcbDate", what), status, Advisories(level, what));
    }

    private static void ReadComponents(JsonElement array, byte[] into, string what)
    {
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() != 16)
        {
            throw new DcapFormatException($"{what}: must be an array of 16 components");
        }

        var i = 0;
        foreach (var component in array.EnumerateArray())
        {
            into[i++] = (byte)Integer(component, "svn", what, 0, 255);
        }
    }

    private sealed class LevelComparer : IComparer<TcbLevel>
    {
        public static readonly LevelComparer Instance = new();

        public int Compare(TcbLevel? x, TcbLevel? y)
        {
            var c = x!.SgxComponents.AsSpan().SequenceCompareTo(y!.SgxComponents);
            if (c != 0)
            {
                return c;
            }

            c = x.PceSvn.CompareTo(y.PceSvn);
            return c != 0 ? c : (x.TdxComponents ?? []).AsSpan().SequenceCompareTo(y.TdxComponents ?? []);
        }
    }
}
