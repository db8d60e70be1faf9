using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee bench attest URL --quote FILE</c>: an HTTP load generator for an MAA-compatible endpoint
/// (Veritee or Azure), reporting requests/s and latency percentiles, with the RS256 signing rate of this machine
/// measured in the same run for comparison.
/// </summary>
internal static class BenchAttestCommand
{
    public static Command Create(CliIo io)
    {
        var url = new Argument<string>("URL") { Description = "Instance URL, e.g. http://127.0.0.1:5080." };
        var quote = new Option<FileInfo>("--quote") { Description = "The samples' JSON file (its EHD is sent as runtime data), a td.info.json TD evidence file (attested at /attest/TdxVm with its runtime data), or a raw/hex SGX or TD quote.", Required = true };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight (default 16).", DefaultValueFactory = _ => 16 };
        var seconds = new Option<double>("--seconds") { Description = "Measurement time (default 10).", DefaultValueFactory = _ => 10 };
        var apiVersion = new Option<string?>("--api-version") { Description = "api-version (default 2022-08-01 for SGX, 2025-06-01 for TDX)." };
        var json = new Option<bool>("--json") { Description = "Print {\"requests\",\"errors\",\"refused\",\"seconds\",\"requestsPerSecond\",\"p50Ms\",\"p99Ms\",\"rs256SignaturesPerSecond\",\"floor\",\"floorPerSecond\",\"ratio\"}; floor is \"rs256-sign\", ratio = requests/s divided by floor/s." };
        var draft = new Option<FileInfo?>("--draft-policy") { Description = "Send this policy text as draftPolicyForAttestation with every request." };
        var anyStatus = new Option<bool>("--any-status") { Description = "Load mode for refused requests (e.g. worst-case drafts): every answer counts, non-200 answers are reported as 'refused', not errors." };
        var command = new Command("attest", "Load an attestation endpoint with one quote and report requests/s and latency, beside the floor measured in the same process after the load: RS256 (RSA-2048) signatures/s on one thread, the one signature every token needs. "
            + "Each request in flight has its own keep-alive HTTP/1.1 connection, opened directly (no proxy); https trusts the system store.");
        command.Arguments.Add(url);
        foreach (var option in new Option[] { quote, concurrency, seconds, apiVersion, json, draft, anyStatus })
        {
            command.Options.Add(option);
        }

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var draftText = parse.GetValue(draft) is { } draftFile ? File.ReadAllText(draftFile.FullName) : null;
            var (path, body) = RequestFor(parse.GetValue(quote)!, parse.GetValue(url)!.TrimEnd('/'), parse.GetValue(apiVersion), draftText);
            var acceptAny = parse.GetValue(anyStatus);
            var inFlight = parse.GetValue(concurrency);
            var duration = parse.GetValue(seconds);
            if (inFlight is < 1 or > 1024 || duration is <= 0 or > 3600)
            {
                throw new CliException("--concurrency must be in 1..1024 and --seconds in (0, 3600]");
            }

            var result = Run(path, body, inFlight, duration, acceptAny).GetAwaiter().GetResult();
            var floor = BenchFloor.Rs256Sign(BenchFloor.SecondsFor(duration));
            var rsa = floor.PerSecond;
            if (parse.GetValue(json))
            {
                io.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    requests = result.Requests,
                    errors = result.Errors,
                    refused = result.Refused,
                    seconds = Math.Round(result.Seconds, 3),
                    requestsPerSecond = Math.Round(result.Requests / result.Seconds, 1),
                    p50Ms = Math.Round(result.P50, 2),
                    p99Ms = Math.Round(result.P99, 2),
                    rs256SignaturesPerSecond = Math.Round(rsa, 0),
                    floor = floor.Name,
                    floorPerSecond = Math.Round(rsa, 1),
                    ratio = Math.Round(floor.RatioOf(result.Requests / result.Seconds), 4),
                }));
            }
            else
            {
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"attest: {result.Requests / result.Seconds:F1} requests/s, p50 {result.P50:F2} ms, p99 {result.P99:F2} ms ({result.Requests} requests, {result.Errors} errors, {result.Refused} refused, {inFlight} in flight, {result.Seconds:F1} s)"));
                io.Out.WriteLine(floor.Describe(result.Requests / result.Seconds));
            }

            return result.Errors == 0 && result.Requests > 0 ? ExitCodes.Ok : ExitCodes.Negative;
        }));
        return command;
    }

    private static (string Path, string Body) RequestFor(FileInfo file, string instance, string? apiVersion, string? draftPolicy)
    {
        var bytes = File.ReadAllBytes(file.FullName);
        byte[] evidence;
        byte[]? ehd = null;
        var runtimeType = "Binary";
        if (bytes.AsSpan().TrimStart(" \r\n\t"u8).StartsWith("{"u8))
        {
            try
            {
                if (TdInfo.IsTdInfo(bytes))
                {
                    var td = TdInfo.Parse(bytes, file.Name);
                    evidence = td.Quote;
                    ehd = td.RuntimeData;
                    runtimeType = td.RuntimeDataType;
                }
                else
                {
                    var info = EnclaveInfo.Parse(bytes, file.Name);
                    evidence = info.Quote;
                    ehd = info.EnclaveHeldData;
                }
            }
            catch (Exception e) when (e is FormatException or JsonException or ArgumentException or EnclaveInfoFormatException)
            {
                throw new CliException($"--quote {file.Name}: {e.Message}");
            }
        }
        else
        {
            var text = Encoding.ASCII.GetString(bytes).Trim();
            evidence = Hex.TryDecode(text, out var decoded) ? decoded : bytes;
        }

        var isOe = OpenEnclaveReport.HasHeader(evidence);
        var isTd = !isOe && IsTdQuote(evidence);
        var type = isOe ? "OpenEnclave" : isTd ? "TdxVm" : "SgxEnclave";
        apiVersion ??= isTd ? "2025-06-01" : "2022-08-01";
        var body = new Dictionary<string, object>
        {
            [isOe ? "report" : "quote"] = System.Buffers.Text.Base64Url.EncodeToString(evidence),
        };
        if (ehd is not null)
        {
            body["runtimeData"] = new Dictionary<string, string> { ["data"] = System.Buffers.Text.Base64Url.EncodeToString(ehd), ["dataType"] = runtimeType };
        }

        if (draftPolicy is not null)
        {
            body["draftPolicyForAttestation"] = draftPolicy;
        }

        return ($"{instance}/attest/{type}?api-version={apiVersion}", JsonSerializer.Serialize(body));
    }

    /// <summary>True for a quote whose header names the TDX TEE (the service answers it only at /attest/TdxVm).</summary>
    private static bool IsTdQuote(byte[] evidence)
    {
        try
        {
            return Quote.Parse(evidence).TeeType == TeeType.Tdx;
        }
        catch (SgxFormatException)
        {
            // The service says what is wrong with it; the first request reports that.
            return false;
        }
    }

    private static async Task<LoadResult> Run(string path, string body, int inFlight, double seconds, bool acceptAny)
    {
        var target = new Uri(path);
        var payload = Encoding.UTF8.GetBytes(body);

        // One request first, through HttpClient for its error text: never measure an error path.
        using (var handler = new SocketsHttpHandler { UseProxy = false })
        using (var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) })
        using (var content = new ByteArrayContent(payload))
        {
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var first = await http.PostAsync(target, content).ConfigureAwait(false);
            if (first.StatusCode != HttpStatusCode.OK && !acceptAny)
            {
                throw new CliException($"the endpoint refused the quote ({(int)first.StatusCode}): {await first.Content.ReadAsStringAsync().ConfigureAwait(false)}", ExitCodes.Negative);
            }
        }

        var request = Http1Connection.Request("POST", target, payload, "application/json");
        await using var load = new LoadGenerator(target, null, inFlight);
        await load.RunAsync(_ => request, LoadGenerator.After(Math.Min(2, seconds / 5)), acceptAny).ConfigureAwait(false);
        return await load.RunAsync(_ => request, LoadGenerator.After(seconds), acceptAny).ConfigureAwait(false);
    }
}
