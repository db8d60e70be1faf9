using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Veritee.TestSupport;
using Xunit.Abstractions;

namespace Veritee.Cluster.Tests;

/// <summary>Three nodes on one PostgreSQL behind nginx behave as one instance.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests(ClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await cluster.EnsureAllNodesUpAsync();
        await cluster.ResetPolicyAsync();
    }

    public Task DisposeAsync() => cluster.ResetPolicyAsync();

    private async Task<(HttpStatusCode Status, JsonObject? Body, AttestSample Sample, string Nonce)> AttestAsync(string baseUrl)
    {
        var sample = AttestSample.Create(cluster.Platform, cluster.Enclave);
        var nonce = Guid.NewGuid().ToString("N");
        var (status, body) = await Api.SendAsync(cluster.Http, HttpMethod.Post, baseUrl + Api.AttestPath, sample.Body(nonce));
        return (status, body, sample, nonce);
    }

    private async Task<JsonObject> AttestOkAsync(string baseUrl, JsonObject jwks)
    {
        var (status, body, sample, nonce) = await AttestAsync(baseUrl);
        Assert.True(status == HttpStatusCode.OK, $"attest through {baseUrl}: {(int)status} {body}");
        var token = body!["token"]!.GetValue<string>();
        Assert.Null(Api.AttestationProblem(token, jwks, cluster.LoadBalancerUrl, sample, nonce, cluster.Enclave));
        return Api.Claims(token);
    }

    [Fact]
    public async Task Every_node_publishes_the_same_key_and_tokens_from_any_node_validate_against_any_nodes_certs()
    {
        var jwks = new List<JsonObject>();
        foreach (var node in cluster.Nodes)
        {
            jwks.Add(await cluster.JwksAsync(node.Url));
        }

        jwks.Add(await cluster.JwksAsync(cluster.LoadBalancerUrl));
        var kids = jwks.Select(j => string.Join(",", j["keys"]!.AsArray().Select(k => k!["kid"]!.GetValue<string>()))).Distinct().ToList();
        Assert.Single(kids);
        Assert.Single(jwks[0]["keys"]!.AsArray());
        Assert.All(jwks, j => Assert.Equal(jwks[0].ToJsonString(), j.ToJsonString()));

        // A token from each node (and one through nginx) against each node's /certs: 4 x 4 checks.
        var tokens = new List<string>();
        foreach (var url in cluster.Nodes.Select(n => n.Url).Append(cluster.LoadBalancerUrl))
        {
            var (status, body, sample, nonce) = await AttestAsync(url);
            Assert.True(status == HttpStatusCode.OK, $"attest through {url}: {(int)status} {body}");
            var token = body!["token"]!.GetValue<string>();
            Assert.Null(Api.AttestationProblem(token, jwks[0], cluster.LoadBalancerUrl, sample, nonce, cluster.Enclave));
            tokens.Add(token);
        }

        foreach (var token in tokens)
        {
            foreach (var set in jwks)
            {
                Assert.Null(Api.SignatureProblem(token, set, cluster.LoadBalancerUrl));
            }
        }

        // The check can fail: a token signed by a key the JWKS does not hold is refused.
        var tampered = tokens[0][..^4] + (tokens[0][^4..] == "AAAA" ? "BBBB" : "AAAA");
        Assert.NotNull(Api.SignatureProblem(tampered, jwks[0], cluster.LoadBalancerUrl));
    }

    [Fact]
    public async Task A_policy_set_through_node_1_governs_attestations_through_nodes_2_and_3_as_soon_as_the_write_returns()
    {
        var jwks = await cluster.JwksAsync(cluster.Nodes[0].Url);
        var marker = Guid.NewGuid().ToString("N");
        var before = await AttestOkAsync(cluster.Nodes[1].Url, jwks);
        Assert.False(before.ContainsKey("cluster-marker"));

        var policy = "version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type==\"x-ms-sgx-svn\"] => issue(type=\"cluster-svn\", value=c.value); => issue(type=\"cluster-marker\", value=\"" + marker + "\");};";
        await Api.SetPolicyAsync(cluster.Http, cluster.Nodes[0].Url, policy);

        // No wait: the next request to any other node is already under the new policy.
        foreach (var url in new[] { cluster.Nodes[1].Url, cluster.Nodes[2].Url, cluster.LoadBalancerUrl, cluster.LoadBalancerUrl, cluster.LoadBalancerUrl })
        {
            var claims = await AttestOkAsync(url, jwks);
            Assert.Equal(marker, claims["cluster-marker"]!.GetValue<string>());
            Assert.Equal(cluster.Enclave.SecurityVersion, claims["cluster-svn"]!.GetValue<int>());
        }

        Assert.Equal(Api.UnsignedPolicyJws(policy), await Api.GetPolicyJwsAsync(cluster.Http, cluster.Nodes[2].Url));

        // A deny through node 2 refuses attestations through nodes 1 and 3 (a 400 with the envelope, no token).
        await Api.SetPolicyAsync(cluster.Http, cluster.Nodes[1].Url, "version=1.0; authorizationrules{=> deny();}; issuancerules{};");
        foreach (var node in new[] { cluster.Nodes[0], cluster.Nodes[2] })
        {
            var (status, body, _, _) = await AttestAsync(node.Url);
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("PolicyEvaluationError", body!["error"]!["code"]!.GetValue<string>());
            Assert.False(body.ContainsKey("token"));
        }

        // A reset through node 3 brings the default back on node 1.
        var (reset, resetBody) = await Api.SendAsync(cluster.Http, HttpMethod.Post, cluster.Nodes[2].Url + "/policies/SgxEnclave:reset?api-version=2022-08-01", Api.UnsignedPolicyJws(null), admin: true);
        Assert.True(reset == HttpStatusCode.OK, $"reset: {resetBody}");
        var after = await AttestOkAsync(cluster.Nodes[0].Url, jwks);
        Assert.False(after.ContainsKey("cluster-marker"));
    }

    [Fact]
    public void The_official_azure_attestation_client_works_through_the_load_balancer()
    {
        var folder = ProcessRunner.CompatSuite("azure-attestation", Path.Combine("@azure", "attestation"));
        var evidence = Path.Combine(cluster.LogFolder, "evidence-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(evidence);
        var sample = AttestSample.Create(cluster.Platform, cluster.Enclave);
        File.WriteAllBytes(Path.Combine(evidence, "quote.bin"), sample.Quote);
        File.WriteAllBytes(Path.Combine(evidence, "runtime-data.bin"), sample.RuntimeData);
        var ca = Path.Combine(evidence, "lb.pem");
        File.WriteAllText(ca, cluster.LoadBalancerCertificatePem);
        var args = $"drive-cluster.mjs --endpoint {cluster.LoadBalancerUrl} --admin-token {ClusterFixture.AdminToken} --evidence \"{evidence}\" " +
            $"--mrenclave {Convert.ToHexStringLower(cluster.Enclave.MrEnclave)} --product-id {cluster.Enclave.ProductId} --svn {cluster.Enclave.SecurityVersion} --rounds 6";
        var text = ProcessRunner.Run("node", args, folder, new Dictionary<string, string> { ["NODE_EXTRA_CA_CERTS"] = ca }, TimeSpan.FromMinutes(2));
        output.WriteLine(text);
        using var doc = JsonDocument.Parse(text);
        var steps = doc.RootElement.GetProperty("steps").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s);
        string[] expected =
        [
            "openid", "signers", "attest through every node", "setPolicy", "getPolicy after set", "attest under the new policy on every node",
            "resetPolicy", "attest after reset on every node", "getPolicyManagementCertificates", "tampered quote is refused", "bearer token required",
        ];
        foreach (var name in expected)
        {
            Assert.True(steps.TryGetValue(name, out var step), $"step {name} did not run");
            Assert.True(step.GetProperty("ok").GetBoolean(), $"step {name}: {step.GetProperty("detail")}");
        }

        Assert.Equal(expected.Length, steps.Count);
    }
}
