using System.Text.Json;
using static Veritee.Dcap.Collateral.JsonFields;

namespace Veritee.Dcap.Collateral;

/// <summary>A TCB level of an enclave identity or a TDX module identity: an ISVSVN threshold and its status.</summary>
public sealed record EnclaveTcbLevel(ushort IsvSvn, DateTimeOffset TcbDate, string TcbStatusText, IReadOnlyList<string> AdvisoryIds)
{
    /// <summary>The parsed status; null when unknown.</summary>
    public TcbStatus? Status { get; } = TcbStatuses.Parse(TcbStatusText);

    internal static EnclaveTcbLevel Read(JsonElement level, string what)
    {
        var tcb = Required(level, "tcb", what);
        return new EnclaveTcbLevel((ushort)Integer(tcb, "isvsvn", what, 0, ushort.MaxValue), Date(level, "tcbDate", what),
            String(level, "tcbStatus", what), Advisories(level, what));
    }
}

/// <summary>Enclave Identity v2 (QE, TD_QE, QVE, QAE) in Intel PCS wire form.</summary>
public sealed class EnclaveIdentity
{
    private EnclaveIdentity()
    {
    }

    /// <summary><c>QE</c>, <c>TD_QE</c>, <c>QVE</c> or <c>QAE</c>.</summary>
    public required string Id { get; init; }

    /// <summary>Always 2.</summary>
    public required int Version { get; init; }

    /// <summary>issueDate.</summary>
    public required DateTimeOffset IssueDate { get; init; }

    /// <summary>nextUpdate.</summary>
    public required DateTimeOffset NextUpdate { get; init; }

    /// <summary>tcbEvaluationDataNumber.</summary>
    public required long TcbEvaluationDataNumber { get; init; }

    /// <summary>MISCSELECT (4 bytes in quote order).</summary>
    public required byte[] MiscSelect { get; init; }

    /// <summary>MISCSELECT mask.</summary>
    public required byte[] MiscSelectMask { get; init; }

    /// <summary>ATTRIBUTES (16 bytes).</summary>
    public required byte[] Attributes { get; init; }

    /// <summary>ATTRIBUTES mask.</summary>
    public required byte[] AttributesMask { get; init; }

    /// <summary>MRSIGNER (32 bytes).</summary>
    public required byte[] MrSigner { get; init; }

    /// <summary>ISVPRODID.</summary>
    public required ushort IsvProdId { get; init; }

    /// <summary>TCB levels in JSON order (Intel's order, highest ISVSVN first); the first at or below the QE's ISVSVN applies.</summary>
    public required IReadOnlyList<EnclaveTcbLevel> TcbLevels { get; init; }

    /// <summary>The signed <c>enclaveIdentity</c> body bytes.</summary>
    public required ReadOnlyMemory<byte> SignedBody { get; init; }

    /// <summary>The signature (raw r‖s).</summary>
    public required byte[] Signature { get; init; }

    /// <summary>Parses the full wire form <c>{"enclaveIdentity":{…},"signature":"…"}</c>.</summary>
    public static EnclaveIdentity Parse(ReadOnlyMemory<byte> json)
    {
        const string What = "QE Identity";
        var (body, signature) = SignedJson.Split(json, "enclaveIdentity", What);
        try
        {
            using var doc = JsonDocument.Parse(body, new JsonDocumentOptions { AllowDuplicateProperties = false });
            var root = doc.RootElement;
            var version = (int)Integer(root, "version", What, 0, int.MaxValue);
            if (version != 2)
            {
                throw new DcapFormatException($"{What}: version {version} is not supported (2)");
            }

            var id = String(root, "id", What);
            if (id is not ("QE" or "TD_QE" or "QVE" or "QAE"))
            {
                throw new DcapFormatException($"{What}: id \"{id}\" is not QE, TD_QE, QVE or QAE");
            }

            var levelsJson = Required(root, "tcbLevels", What);
            if (levelsJson.ValueKind != JsonValueKind.Array || levelsJson.GetArrayLength() == 0)
            {
                throw new DcapFormatException($"{What}: tcbLevels must be a non-empty array");
            }

            var levels = levelsJson.EnumerateArray().Select((l, i) => EnclaveTcbLevel.Read(l, $"{What} tcbLevels[{i}]")).ToArray();
            if (levels.FirstOrDefault(l => l.Status is not (TcbStatus.UpToDate or TcbStatus.ConfigurationNeeded or TcbStatus.OutOfDate or
                TcbStatus.OutOfDateConfigurationNeeded or TcbStatus.Revoked)) is { } bad)
            {
                // QVL's EnclaveIdentityV2 parses these five statuses (its enclave TcbStatus enum); any other string,
                // SWHardeningNeeded and ConfigurationAndSWHardeningNeeded included, makes the identity invalid.
                throw new DcapFormatException($"{What}: tcbStatus \"{bad.TcbStatusText}\" is not UpToDate, ConfigurationNeeded, OutOfDate, OutOfDateConfigurationNeeded or Revoked")
                {
                    IsInvalidContent = true,
                };
            }

            return new EnclaveIdentity
            {
                Id = id,
                Version = version,
                IssueDate = Date(root, "issueDate", What),
                NextUpdate = Date(root, "nextUpdate", What),
                TcbEvaluationDataNumber = Integer(root, "tcbEvaluationDataNumber", What, 0, uint.MaxValue),
                MiscSelect = HexBytes(root, "miscselect", 4, What),
                MiscSelectMask = HexBytes(root, "miscselectMask", 4, What),
                Attributes = HexBytes(root, "attributes", 16, What),
                AttributesMask = HexBytes(root, "attributesMask", 16, What),
                MrSigner = HexBytes(root, "mrsigner", 32, What),
                IsvProdId = (ushort)Integer(root, "isvprodid", What, 0, ushort.MaxValue),
                TcbLevels = levels,
                SignedBody = body,
                Signature = signature,
            };
        }
        catch (JsonException e)
        {
            throw new DcapFormatException($"{What}: malformed JSON: {e.Message}", e);
        }
    }
}
