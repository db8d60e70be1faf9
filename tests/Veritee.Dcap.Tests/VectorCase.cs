using System.Text.Json;
using Veritee.Dcap.Collateral;
using Veritee.TestSupport;

namespace Veritee.Dcap.Tests;

/// <summary>One case of tests/vectors/dcap/cases with its expectations.</summary>
internal sealed class VectorCase
{
    private VectorCase(string id, JsonElement json)
    {
        Id = id;
        Json = json;
    }

    public string Id { get; }

    public JsonElement Json { get; }

    public string Folder => Vectors.DcapCase(Id);

    public byte[] Quote => File.ReadAllBytes(Path.Combine(Folder, "quote.bin"));

    public QuoteCollateral Collateral => QuoteCollateral.Load(Folder);

    public QuoteCollateral DcapQvlCollateral => QuoteCollateral.Load(Path.Combine(Folder, "collateral.dcap-qvl.json"));

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeSeconds(Json.GetProperty("verification_time").GetProperty("unix").GetInt64());

    public JsonElement Expected => Json.GetProperty("expected");

    public string ExpectedStatus => Expected.GetProperty("qvl_status").GetString()!;

    public string? ExpectedTcbStatus => Expected.GetProperty("tcb_status").GetString();

    public IReadOnlyList<string> ExpectedAdvisories =>
        Expected.TryGetProperty("advisory_ids", out var a) && a.ValueKind == JsonValueKind.Array ? [.. a.EnumerateArray().Select(x => x.GetString()!)] : [];

    public static VectorCase Load(string id)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Vectors.DcapCase(id), "case.json")));
        return new VectorCase(id, doc.RootElement.Clone());
    }

    public static TheoryData<string> All()
    {
        var data = new TheoryData<string>();
        foreach (var id in Vectors.DcapCaseIds())
        {
            data.Add(id);
        }

        return data;
    }

    public static TheoryData<string, int, string> Mutations()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var id in Vectors.DcapCaseIds())
        {
            var c = Load(id);
            if (c.Json.TryGetProperty("mutations", out var m))
            {
                foreach (var item in m.GetProperty("items").EnumerateArray())
                {
                    Assert.Equal(1, item.GetProperty("xor").GetInt32());
                    data.Add(id, item.GetProperty("offset").GetInt32(), item.GetProperty("expected_qvl_status").GetString()!);
                }
            }
        }

        return data;
    }

    public static TheoryData<string, string, int, string> TimeEvaluations()
    {
        var data = new TheoryData<string, string, int, string>();
        foreach (var id in Vectors.DcapCaseIds())
        {
            var c = Load(id);
            if (c.Json.TryGetProperty("time_evaluations", out var t))
            {
                foreach (var item in t.GetProperty("items").EnumerateArray())
                {
                    data.Add(id, item.GetProperty("time").GetString()!, item.GetProperty("intel_qve").GetProperty("collateral_expiration_status").GetInt32(),
                        item.GetProperty("tcb_status").GetString()!);
                }
            }
        }

        return data;
    }
}
