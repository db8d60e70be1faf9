using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using LogEntry = (string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, System.Collections.Generic.IReadOnlyList<System.Collections.Generic.KeyValuePair<string, object?>> Fields);

namespace Veritee.Service.Tests;

/// <summary>A node that also hands its logs to a capturing provider.</summary>
public sealed class LoggedServiceFixture : ServiceFixture
{
    public CapturingLoggerProvider Logs { get; } = new();

    protected override ServiceOptions Configure(ServiceOptions options) => options with { LoggerProviders = [Logs], LogLevel = LogLevel.Debug };
}

public sealed class ObservabilityTests(LoggedServiceFixture service) : IClassFixture<LoggedServiceFixture>
{
    private static string QuoteBase64 => System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));

    private static string RuntimeDataBase64 => System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("runtime-data.bin")));

    private async Task<JsonObject> Get(string path, HttpStatusCode expected)
    {
        using var response = await service.Http.GetAsync(service.BaseUrl + path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{path}: {response.StatusCode} {text}");
        return (JsonObject)JsonNode.Parse(text)!;
    }

    [Fact]
    public async Task Live_and_ready_answer_200_with_the_store_checked()
    {
        Assert.Equal("live", (await Get(VeriteeServer.LivePath, HttpStatusCode.OK))["status"]!.GetValue<string>());
        var ready = await Get(VeriteeServer.ReadyPath, HttpStatusCode.OK);
        Assert.Equal("ready", ready["status"]!.GetValue<string>());
        Assert.Equal("ok", ready["checks"]!["store"]!["status"]!.GetValue<string>());
        Assert.Equal("sqlite", ready["checks"]!["store"]!["kind"]!.GetValue<string>());
        Assert.Equal("ok", ready["checks"]!["collateral"]!["folder"]!.GetValue<string>());
        Assert.Equal("ok", ready["checks"]!["instanceKey"]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Metrics_expose_attestations_verifications_and_policy_denials()
    {
        var (ok, _) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + QuoteBase64 + "\"}");
        Assert.Equal(HttpStatusCode.OK, ok);
        const string Deny = "version=1.0; authorizationrules{=> deny();}; issuancerules{};";
        var (denied, _) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01",
            "{\"quote\":\"" + QuoteBase64 + "\",\"draftPolicyForAttestation\":\"" + Deny + "\"}");
        Assert.Equal(HttpStatusCode.BadRequest, denied);

        using var response = await service.Http.GetAsync(service.BaseUrl + "/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("veritee_attestations_total{", text, StringComparison.Ordinal);
        Assert.Matches("veritee_attestations_total\\{[^}]*attestation_type=\"SgxEnclave\"[^}]*outcome=\"issued\"", text);
        Assert.Matches("veritee_attestations_total\\{[^}]*outcome=\"policy_denied\"", text);
        Assert.Matches("veritee_verifications_total\\{[^}]*qvl_status=\"STATUS_[A-Z_]+\"", text);
        Assert.Matches("veritee_policy_denials_total\\{[^}]*attestation_type=\"SgxEnclave\"", text);
        Assert.Contains("veritee_attestation_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attestation_spans_are_emitted_for_verify_policy_and_sign()
    {
        var names = new System.Collections.Concurrent.ConcurrentQueue<(string Name, object? Status)>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == ServiceTelemetry.Name,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStopped = a => names.Enqueue((a.OperationName, a.GetTagItem("qvl_status"))),
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var (ok, _) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + QuoteBase64 + "\"}");
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Contains(names, n => n.Name == "veritee.verify" && n.Status is string status && status.StartsWith("STATUS_", StringComparison.Ordinal));
        Assert.Contains(names, n => n.Name == "veritee.policy");
        Assert.Contains(names, n => n.Name == "veritee.sign");
    }

    [Fact]
    public async Task Request_logs_carry_method_path_status_code_and_request_id_but_no_body_token_or_admin_token()
    {
        var quote = QuoteBase64;
        var runtime = RuntimeDataBase64;
        var (status, body) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01",
            "{\"quote\":\"" + quote + "\",\"runtimeData\":{\"data\":\"" + runtime + "\",\"dataType\":\"Binary\"},\"nonce\":\"secret-nonce-4711\"}");
        Assert.Equal(HttpStatusCode.OK, status);
        var token = body["token"]!.GetValue<string>();

        const string Policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type=\"logged\", value=\"policy-text-marker\");};";
        var jws = "eyJhbGciOiJub25lIn0." + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            "{\"AttestationPolicy\":\"" + System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Policy)) + "\"}")) + ".";
        var (set, setBody) = await service.Send(HttpMethod.Put, "/policies/OpenEnclave?api-version=2022-08-01", jws, "text/plain", admin: true);
        Assert.Equal(HttpStatusCode.OK, set);
        var (unauthorized, _) = await service.Send(HttpMethod.Put, "/policies/OpenEnclave?api-version=2022-08-01", jws, "text/plain");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized);
        var (bad, _) = await service.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"AAAA\"}");
        Assert.Equal(HttpStatusCode.BadRequest, bad);

        // Request lines are written after the response, and the other tests of this class log through the same
        // fixture, so wait for this test's own three lines rather than for a count.
        static bool Attested(LogEntry e) => e.Message.StartsWith("POST /attest/SgxEnclave 200 ", StringComparison.Ordinal);
        static bool Refused(LogEntry e) => e.Message.StartsWith("PUT /policies/OpenEnclave 401 ", StringComparison.Ordinal) && e.Message.Contains("error=Unauthorized", StringComparison.Ordinal);
        static bool Invalid(LogEntry e) => e.Message.StartsWith("POST /attest/SgxEnclave 400 ", StringComparison.Ordinal) && e.Message.Contains("error=InvalidParameter", StringComparison.Ordinal);
        List<LogEntry> requests = [];
        for (var deadline = DateTime.UtcNow.AddSeconds(10); ; await Task.Delay(20))
        {
            requests = [.. service.Logs.Entries.Where(e => e.Category == "Veritee.Service.Requests")];
            if ((requests.Any(Attested) && requests.Any(Refused) && requests.Any(Invalid)) || DateTime.UtcNow > deadline)
            {
                break;
            }
        }

        var entries = service.Logs.Entries.ToList();
        Assert.Contains(requests, Attested);
        Assert.Contains(requests, Refused);
        Assert.Contains(requests, Invalid);

        // Structured fields, including the request id the client saw.
        var attest = requests.First(e => e.Message.StartsWith("POST /attest/SgxEnclave 200 ", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Debug, attest.Level);
        Assert.Equal(LogLevel.Information, requests.First(e => e.Message.StartsWith("PUT /policies/OpenEnclave 401 ", StringComparison.Ordinal)).Level);
        var fields = attest.Fields.ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal("POST", fields["Method"]);
        Assert.Equal("/attest/SgxEnclave", fields["Path"]);
        Assert.Equal(200, fields["StatusCode"]);
        Assert.IsType<double>(fields["DurationMs"]);
        Assert.False(string.IsNullOrEmpty(fields["RequestId"] as string));
        Assert.Contains(requests, e => e.Fields.Any(f => f.Key == "ErrorCode" && (f.Value as string) == MaaErrorCodes.Unauthorized));

        string[] secrets = [ServiceFixture.AdminToken, token, token.Split('.')[1], quote[..64], runtime[..32], "secret-nonce-4711", "policy-text-marker", jws[..40], "api-version"];
        foreach (var (category, _, message, entryFields) in entries)
        {
            var all = message + " " + string.Join(" ", entryFields.Select(f => f.Value?.ToString()));
            foreach (var secret in secrets)
            {
                Assert.False(all.Contains(secret, StringComparison.Ordinal), $"log of {category} contains request data: {message}");
            }
        }

        Assert.NotNull(setBody["token"]);
    }
}

/// <summary>A node with the scrape endpoint switched off.</summary>
public sealed class NoMetricsServiceFixture : ServiceFixture
{
    protected override ServiceOptions Configure(ServiceOptions options) => options with { MetricsPath = null, LogLevel = LogLevel.Warning };
}

public sealed class MetricsOffTests(NoMetricsServiceFixture service) : IClassFixture<NoMetricsServiceFixture>
{
    [Fact]
    public async Task Without_metrics_there_is_no_scrape_endpoint()
    {
        var (status, body) = await service.Send(HttpMethod.Get, "/metrics");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Envelope.AssertError(body, MaaErrorCodes.NotFound);
    }
}

/// <summary>Readiness on PostgreSQL: 503 while the server is down, 200 again once it is back, without a restart.</summary>
public sealed class ReadinessOnPostgresTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Ready_is_503_while_PostgreSQL_is_down_and_200_when_it_is_back()
    {
        var database = "r" + Guid.NewGuid().ToString("N");
        postgres.Server.CreateDatabase(database);
        var node = new PostgresNode(postgres.Server.ConnectionString(database));
        await node.InitializeAsync();
        try
        {
            var (up, upBody) = await node.Send(HttpMethod.Get, VeriteeServer.ReadyPath);
            Assert.Equal(HttpStatusCode.OK, up);
            Assert.Equal("postgresql", upBody["checks"]!["store"]!["kind"]!.GetValue<string>());

            postgres.Server.Stop();

            // The store check is cached for about a second: the outage shows once the cached answer expires.
            var downDeadline = DateTime.UtcNow.AddSeconds(20);
            HttpStatusCode down;
            JsonObject downBody;
            do
            {
                (down, downBody) = await node.Send(HttpMethod.Get, VeriteeServer.ReadyPath);
                if (down == HttpStatusCode.OK)
                {
                    await Task.Delay(200);
                }
            }
            while (down == HttpStatusCode.OK && DateTime.UtcNow < downDeadline);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down);
            Assert.Equal("unavailable", downBody["status"]!.GetValue<string>());
            Assert.Equal("unreachable", downBody["checks"]!["store"]!["status"]!.GetValue<string>());

            // Liveness does not depend on the store.
            var (live, _) = await node.Send(HttpMethod.Get, VeriteeServer.LivePath);
            Assert.Equal(HttpStatusCode.OK, live);

            // Requests that need the store get 503 with the envelope meanwhile.
            var quote = System.Buffers.Text.Base64Url.EncodeToString(File.ReadAllBytes(ServiceFixture.Evidence("sgx-quote.debug.bin")));
            var (attest, attestBody) = await node.Send(HttpMethod.Post, "/attest/SgxEnclave?api-version=2022-08-01", "{\"quote\":\"" + quote + "\"}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, attest);
            Envelope.AssertError(attestBody, MaaErrorCodes.ServiceUnavailable);

            postgres.Server.Start();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            HttpStatusCode again;
            do
            {
                (again, _) = await node.Send(HttpMethod.Get, VeriteeServer.ReadyPath);
                if (again != HttpStatusCode.OK)
                {
                    await Task.Delay(200);
                }
            }
            while (again != HttpStatusCode.OK && DateTime.UtcNow < deadline);
            Assert.Equal(HttpStatusCode.OK, again);
        }
        finally
        {
            await node.DisposeAsync();
        }
    }
}
