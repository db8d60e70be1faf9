using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Veritee.TestSupport;

namespace Veritee.Service.Tests;

/// <summary>A real service on loopback (SQLite in a temporary folder) whose app the test can inspect.</summary>
internal sealed class RunningService : IAsyncDisposable
{
    private readonly string _data;

    private RunningService(WebApplication app, string baseUrl, string data)
    {
        App = app;
        BaseUrl = baseUrl;
        _data = data;
    }

    public WebApplication App { get; }

    public string BaseUrl { get; }

    public HttpClient Http { get; } = new();

    public static async Task<RunningService> StartAsync(Func<ServiceOptions, ServiceOptions>? configure = null)
    {
        var url = Loopback.HttpUrl();
        var data = Path.Combine(Path.GetTempPath(), "veritee-openapi-tests-" + Guid.NewGuid().ToString("N"));
        var options = new ServiceOptions
        {
            InstanceUrl = url,
            DataDirectory = data,
            AdminToken = ServiceFixture.AdminToken,
            CollateralDirectory = Vectors.DcapCase("sgx-v3-oe-envelope-legacy-root-2022-05"),
        };
        var app = await VeriteeServer.BuildAsync(configure?.Invoke(options) ?? options, url, new FixedClock(ServiceFixture.PinnedTime));
        await app.StartAsync();
        return new RunningService(app, url, data);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }
}

public sealed partial class OpenApiDocumentTests
{
    private const string DocumentPath = "/openapi/v1.json";

    [Fact]
    public async Task The_document_is_valid_OpenAPI_and_describes_every_route_the_service_maps()
    {
        await using var service = await RunningService.StartAsync();
        using var response = await service.Http.GetAsync(service.BaseUrl + DocumentPath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var document = await ReadAsync(response);
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, document.Diagnostic!.SpecificationVersion);
        var doc = document.Document!;
        var operations = Operations(doc).ToList();
        var knownVersions = operations.SelectMany(o => ApiVersionEnum(o.Operation)).Append("2018-09-01-preview").ToHashSet(StringComparer.Ordinal);

        // Every endpoint of the running app (not a list written here), except the fallback that answers 404 to anything else.
        var endpoints = ((IEndpointRouteBuilder)service.App).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Where(e => !IsFallback(e)).ToList();
        Assert.True(endpoints.Count >= 14, $"only {endpoints.Count} endpoints found");
        var described = new HashSet<(string Path, HttpMethod Method)>();
        foreach (var endpoint in endpoints)
        {
            var matcher = new TemplateMatcher(TemplateParser.Parse(endpoint.RoutePattern.RawText!.TrimStart('/')), new RouteValueDictionary());
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            foreach (var method in methods)
            {
                var matching = operations.Where(o => o.Method.Method == method && matcher.TryMatch(new PathString(o.Concrete), new RouteValueDictionary())).ToList();
                Assert.True(matching.Count > 0, $"{method} {endpoint.RoutePattern.RawText} is not described in the document");
                foreach (var (path, httpMethod, concrete, operation) in matching)
                {
                    described.Add((path, httpMethod));
                    var where = $"{method} {path}";
                    Assert.False(string.IsNullOrWhiteSpace(operation.Summary), where + ": no summary");

                    // Route parameters: every placeholder of the documented path is a declared path parameter.
                    foreach (Match placeholder in Placeholder().Matches(path))
                    {
                        Assert.Contains(operation.Parameters ?? [], p => p.Name == placeholder.Groups[1].Value && p.In == ParameterLocation.Path && p.Required);
                    }

                    // A 200 answer with a schema.
                    Assert.True(operation.Responses!.TryGetValue("200", out var ok), where + ": no 200 response");
                    Assert.NotEmpty(ok!.Content!);
                    Assert.All(ok.Content!.Values, media => Assert.True(Resolves(media.Schema), where + ": 200 without a schema"));

                    // Every 4xx and 5xx answer is MAA's envelope with x-ms-error-code.
                    foreach (var range in new[] { "4XX", "5XX" })
                    {
                        Assert.True(operation.Responses.TryGetValue(range, out var error), $"{where}: no {range} response");
                        Assert.Contains("x-ms-error-code", error!.Headers!.Keys);
                        var envelope = error.Content!["application/json"].Schema!;
                        var inner = envelope.Properties!["error"];
                        Assert.Contains("code", inner.Properties!.Keys);
                        Assert.Contains("message", inner.Properties!.Keys);
                        Assert.Contains(MaaErrorCodes.NotFound, inner.Properties!["code"].Enum!.Select(v => v.GetValue<string>()));
                    }

                    await CheckApiVersionAsync(service, httpMethod, concrete, operation, knownVersions, where);
                }
            }
        }

        // And nothing is described that the service does not serve.
        Assert.Equal(operations.Select(o => (o.Path, o.Method)).ToHashSet(), described);
    }

    [Fact]
    public async Task With_openapi_off_the_document_path_is_404_with_the_MAA_envelope()
    {
        await using var service = await RunningService.StartAsync(o => o with { OpenApi = false });
        using var response = await service.Http.GetAsync(service.BaseUrl + DocumentPath);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(MaaErrorCodes.NotFound, Assert.Single(response.Headers.GetValues("x-ms-error-code")));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(MaaErrorCodes.NotFound, body["error"]!["code"]!.GetValue<string>());
        Assert.Contains(DocumentPath, body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // The MAA routes are unchanged.
        using var certs = await service.Http.GetAsync(service.BaseUrl + "/certs");
        Assert.Equal(HttpStatusCode.OK, certs.StatusCode);
    }

    [Theory]
    [InlineData("/attest/SgxEnclave?api-version=2022-08-01", "POST", "{}", "text/plain", "\"quote\"")]
    [InlineData("/attest/OpenEnclave?api-version=2020-10-01", "POST", "{}", null, "\"report\"")]
    [InlineData("/attest/TdxVm?api-version=2025-06-01", "POST", "{}", "application/octet-stream", "\"quote\"")]
    [InlineData("/certificates:add?api-version=2025-06-01", "POST", "x", "application/x-www-form-urlencoded", "bearer")]
    [InlineData("/policies/SgxEnclave?api-version=2022-08-01", "PUT", "x", "application/jwt", "bearer")]
    [InlineData("/policies/SgxEnclave:reset?api-version=2022-08-01", "POST", "x", null, "bearer")]
    public async Task The_request_body_metadata_does_not_make_routing_pick_requests_by_content_type(string path, string method, string body, string? contentType, string expected)
    {
        // Metadata such as Accepts<T> also filters requests by Content-Type in routing; MAA clients send several.
        await using var service = await RunningService.StartAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), service.BaseUrl + path) { Content = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(body)) };
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }

        using var response = await service.Http.SendAsync(request);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.NotEqual(MaaErrorCodes.NotFound, error["code"]!.GetValue<string>());
        Assert.Contains(expected, error["message"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_interactive_reference_is_off_by_default_and_when_on_loads_only_from_the_service()
    {
        await using (var byDefault = await RunningService.StartAsync())
        {
            using var off = await byDefault.Http.GetAsync(byDefault.BaseUrl + "/scalar/");
            Assert.Equal(HttpStatusCode.NotFound, off.StatusCode);
            Assert.Equal(MaaErrorCodes.NotFound, Assert.Single(off.Headers.GetValues("x-ms-error-code")));
        }

        await using var service = await RunningService.StartAsync(o => o with { OpenApiUi = true });
        using var page = await service.Http.GetAsync(service.BaseUrl + "/scalar/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("\"url\":\"" + DocumentPath.TrimStart('/') + "\"", html, StringComparison.Ordinal);
        foreach (var setting in new[] { "\"withDefaultFonts\":false", "\"telemetry\":false", "\"hideTestRequestButton\":true", "\"hideClientButton\":true" })
        {
            Assert.Contains(setting, html, StringComparison.Ordinal);
        }

        // No script, style or font from elsewhere: every src/href is a path of this service, and each one answers.
        var references = SourceAttribute().Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(references);
        foreach (var reference in references)
        {
            Assert.DoesNotContain("//", reference, StringComparison.Ordinal);
            using var asset = await service.Http.GetAsync(new Uri(new Uri(service.BaseUrl + "/scalar/"), reference));
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        }

        Assert.DoesNotContain("fonts.scalar.com", html, StringComparison.Ordinal);

        // The page is not part of the API: the document is unchanged.
        using var response = await service.Http.GetAsync(service.BaseUrl + DocumentPath);
        var doc = (await ReadAsync(response)).Document!;
        Assert.DoesNotContain(doc.Paths.Keys, p => p.StartsWith("/scalar", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"(?:src|href)\s*=\s*""([^""]+)""")]
    private static partial Regex SourceAttribute();

    [Fact]
    public async Task A_path_that_looks_like_a_file_gets_the_envelope_404()
    {
        await using var service = await RunningService.StartAsync();
        using var response = await service.Http.GetAsync(service.BaseUrl + "/no-such.json");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(MaaErrorCodes.NotFound, Assert.Single(response.Headers.GetValues("x-ms-error-code")));
        Assert.Equal(MaaErrorCodes.NotFound, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_an_operations_port_the_document_describes_only_what_the_main_listener_serves()
    {
        var opsUrl = Loopback.HttpUrl();
        await using var service = await RunningService.StartAsync(o => o with { OpsUrls = opsUrl });
        using var response = await service.Http.GetAsync(service.BaseUrl + DocumentPath);
        var doc = (await ReadAsync(response)).Document!;
        foreach (var path in new[] { VeriteeServer.LivePath, VeriteeServer.ReadyPath, "/metrics" })
        {
            Assert.DoesNotContain(path, doc.Paths.Keys);
            using var main = await service.Http.GetAsync(service.BaseUrl + path);
            Assert.Equal(HttpStatusCode.NotFound, main.StatusCode);
        }

        Assert.Contains("/attest/SgxEnclave", doc.Paths.Keys);

        // The document belongs to the service, not to the operations port.
        using var onOps = await service.Http.GetAsync(opsUrl + DocumentPath);
        Assert.Equal(HttpStatusCode.NotFound, onOps.StatusCode);
    }

    [Fact]
    public async Task The_wire_shapes_match_what_the_handlers_write()
    {
        await using var service = await RunningService.StartAsync();
        using var response = await service.Http.GetAsync(service.BaseUrl + DocumentPath);
        var doc = (await ReadAsync(response)).Document!;

        // The properties each schema declares are the ones the service really sends.
        var certs = JsonNode.Parse(await service.Http.GetStringAsync(service.BaseUrl + "/certs"))!.AsObject();
        AssertShape(Schema(doc, "/certs", HttpMethod.Get), certs);
        AssertShape(Schema(doc, "/certs", HttpMethod.Get).Properties!["keys"].Items!, certs["keys"]![0]!.AsObject());
        var oidc = JsonNode.Parse(await service.Http.GetStringAsync(service.BaseUrl + "/.well-known/openid-configuration"))!.AsObject();
        AssertShape(Schema(doc, "/.well-known/openid-configuration", HttpMethod.Get), oidc);
        var baselines = JsonNode.Parse(await service.Http.GetStringAsync(service.BaseUrl + "/tcbbaselines/TdxVm?api-version=2025-06-01"))!.AsObject();
        AssertShape(Schema(doc, "/tcbbaselines/{type}", HttpMethod.Get), baselines);
        using var error = await service.Http.GetAsync(service.BaseUrl + "/policies/SgxEnclave");
        var envelope = JsonNode.Parse(await error.Content.ReadAsStringAsync())!.AsObject();
        var errorSchema = doc.Paths["/certs"].Operations![HttpMethod.Get].Responses!["4XX"].Content!["application/json"].Schema!;
        AssertShape(errorSchema, envelope);
        AssertShape(errorSchema.Properties!["error"], envelope["error"]!.AsObject());

        // Each attestation type has its own body: the evidence property the service reads, required.
        Assert.Contains("quote", RequestSchema(doc, "/attest/SgxEnclave").Required!);
        Assert.Contains("report", RequestSchema(doc, "/attest/OpenEnclave").Required!);
        Assert.Contains("quote", RequestSchema(doc, "/attest/TdxVm").Required!);
        foreach (var path in new[] { "/attest/SgxEnclave", "/attest/OpenEnclave", "/attest/TdxVm" })
        {
            var properties = RequestSchema(doc, path).Properties!;
            foreach (var name in new[] { "runtimeData", "initTimeData", "draftPolicyForAttestation", "nonce" })
            {
                Assert.Contains(name, properties.Keys);
            }

            Assert.Equal(["Binary", "JSON"], properties["runtimeData"].Properties!["dataType"].Enum!.Select(v => v.GetValue<string>()));
        }

        // certificates:add and :remove take both 2025-06-01 shapes: the object and the JWS.
        foreach (var (path, property) in new[] { ("/certificates:add", "policyCertificateToAdd"), ("/certificates:remove", "policyCertificateToRemove") })
        {
            var body = doc.Paths[path].Operations![HttpMethod.Post].RequestBody!.Content!;
            Assert.Contains("text/plain", body.Keys);
            var shapes = body["application/json"].Schema!.OneOf!;
            Assert.Contains(shapes, s => s.Properties?.ContainsKey(property) == true);
            Assert.Contains(shapes, s => s.Type == JsonSchemaType.String);
        }

        // Management needs the admin bearer token; attestation is anonymous.
        Assert.NotEmpty(doc.Paths["/policies/{type}"].Operations![HttpMethod.Put].Security!);
        Assert.Empty(doc.Paths["/attest/SgxEnclave"].Operations![HttpMethod.Post].Security ?? []);
        Assert.Equal(JsonSchemaType.String, doc.Paths["/policies/{type}"].Operations![HttpMethod.Put].RequestBody!.Content!["text/plain"].Schema!.Type);
        Assert.Equal(service.BaseUrl, Assert.Single(doc.Servers!).Url);
    }

    [GeneratedRegex(@"\{([^}]+)\}")]
    private static partial Regex Placeholder();

    private static async Task<ReadResult> ReadAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var result = await OpenApiDocument.LoadAsync(stream, "json", new OpenApiReaderSettings());
        Assert.NotNull(result.Document);
        Assert.Empty(result.Diagnostic!.Errors.Select(e => e.ToString()));
        Assert.Empty(result.Document!.Validate(ValidationRuleSet.GetDefaultRuleSet())!.Select(e => e.ToString()));
        return result;
    }

    /// <summary>Every operation of the document, with a concrete path (placeholders replaced by their first allowed value).</summary>
    private static IEnumerable<(string Path, HttpMethod Method, string Concrete, OpenApiOperation Operation)> Operations(OpenApiDocument doc)
    {
        foreach (var (path, item) in doc.Paths)
        {
            foreach (var (method, operation) in item.Operations ?? [])
            {
                var concrete = Placeholder().Replace(path, m =>
                    (operation.Parameters ?? []).FirstOrDefault(p => p.Name == m.Groups[1].Value && p.In == ParameterLocation.Path)?.Schema?.Enum?.FirstOrDefault()?.GetValue<string>() ?? "x");
                yield return (path, method, concrete, operation);
            }
        }
    }

    private static IEnumerable<string> ApiVersionEnum(OpenApiOperation operation) =>
        (operation.Parameters ?? []).FirstOrDefault(p => p.Name == "api-version" && p.In == ParameterLocation.Query)?.Schema?.Enum?.Select(v => v.GetValue<string>()) ?? [];

    private static bool IsFallback(RouteEndpoint endpoint) =>
        endpoint.RoutePattern.PathSegments.Count == 1 && endpoint.RoutePattern.Parameters is [{ IsCatchAll: true }] &&
        endpoint.RoutePattern.PathSegments[0].Parts.Count == 1;

    private static bool Resolves(IOpenApiSchema? schema) => schema switch
    {
        null => false,
        OpenApiSchemaReference reference => reference.Target is not null,
        _ => true,
    };

    /// <summary>
    /// What the service does decides what the document must say: a route that refuses a request without api-version must
    /// declare it required, every listed value must pass the service's version check and a known unlisted one must not.
    /// </summary>
    private static async Task CheckApiVersionAsync(RunningService service, HttpMethod method, string concrete, OpenApiOperation operation, HashSet<string> knownVersions, string where)
    {
        var parameter = (operation.Parameters ?? []).FirstOrDefault(p => p.Name == "api-version" && p.In == ParameterLocation.Query);
        var (status, message) = await ProbeAsync(service, method, concrete);
        var required = status == HttpStatusCode.BadRequest && message.Contains("api-version", StringComparison.Ordinal);
        if (!required)
        {
            Assert.True(parameter is null || !parameter.Required, $"{where}: api-version documented as required, but the service answers {(int)status} without it");
            return;
        }

        Assert.True(parameter is { Required: true }, $"{where}: the service requires api-version, the document does not say so");
        var listed = ApiVersionEnum(operation).ToList();
        Assert.NotEmpty(listed);
        foreach (var version in listed)
        {
            var (_, answer) = await ProbeAsync(service, method, concrete + "?api-version=" + version);
            Assert.DoesNotContain("api-version", answer, StringComparison.Ordinal);
        }

        foreach (var version in knownVersions.Except(listed))
        {
            var (refused, answer) = await ProbeAsync(service, method, concrete + "?api-version=" + version);
            Assert.True(refused is HttpStatusCode.BadRequest or HttpStatusCode.NotFound && answer.Contains("api-version", StringComparison.Ordinal),
                $"{where}: api-version {version} is not documented, but the service accepts it ({(int)refused} {answer})");
        }
    }

    /// <summary>One request without credentials or body: the status and the error message (empty when none).</summary>
    private static async Task<(HttpStatusCode Status, string Message)> ProbeAsync(RunningService service, HttpMethod method, string pathAndQuery)
    {
        using var request = new HttpRequestMessage(method, service.BaseUrl + pathAndQuery);
        using var response = await service.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var message = (int)response.StatusCode >= 400 && JsonNode.Parse(text) is JsonObject body ? body["error"]?["message"]?.GetValue<string>() ?? string.Empty : string.Empty;
        return (response.StatusCode, message);
    }

    private static IOpenApiSchema Schema(OpenApiDocument doc, string path, HttpMethod method) =>
        doc.Paths[path].Operations![method].Responses!["200"].Content!["application/json"].Schema!;

    private static IOpenApiSchema RequestSchema(OpenApiDocument doc, string path) =>
        doc.Paths[path].Operations![HttpMethod.Post].RequestBody!.Content!["application/json"].Schema!;

    /// <summary>The object has every required property of the schema and no property the schema does not declare.</summary>
    private static void AssertShape(IOpenApiSchema schema, JsonObject value)
    {
        var declared = schema.Properties!.Keys.ToHashSet(StringComparer.Ordinal);
        var undeclared = value.Select(p => p.Key).Where(k => !declared.Contains(k)).ToList();
        Assert.True(undeclared.Count == 0, "sent but not declared: " + string.Join(", ", undeclared));
        var missing = (schema.Required ?? new HashSet<string>()).Where(k => !value.ContainsKey(k)).ToList();
        Assert.True(missing.Count == 0, "required but not sent: " + string.Join(", ", missing));
    }
}
