using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Veritee.Cluster.Tests;

/// <summary>
/// Faults injected into the running cluster, each bounded in requests and seconds, traffic only on loopback:
/// kill -9 of a node under load, kill -9 of a node during policy writes, PostgreSQL restarted under load.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FaultTests(ClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await cluster.EnsureAllNodesUpAsync();
        await cluster.ResetPolicyAsync();
    }

    public async Task DisposeAsync()
    {
        await cluster.EnsureAllNodesUpAsync();
        await cluster.ResetPolicyAsync();
    }

    private void Report(string text) => output.WriteLine(text);

    private static string Describe(Exception e) => e.InnerException is { } inner ? $"{e.GetType().Name}: {e.Message} <- {Describe(inner)}" : $"{e.GetType().Name}: {e.Message}";

    private static string Upstream(NodeProcess node) => $"127.0.0.1:{node.Port}";

    [Fact]
    public async Task Kill_9_of_one_node_under_load_fails_at_most_the_requests_in_flight_and_gives_no_wrong_answer()
    {
        const int Concurrency = 8;
        const int MaxRequests = 2000;
        var jwks = await cluster.JwksAsync(cluster.Nodes[0].Url);
        var victim = cluster.Nodes[1];
        var clock = Stopwatch.StartNew();

        await using var load = new LoadDriver(cluster, Concurrency, MaxRequests, TimeSpan.FromSeconds(60));
        Assert.True(await load.WaitUntilAsync(l => l.Completed >= 150), "the load did not get going: " + string.Join("; ", load.Outcomes.Take(5)));
        var inFlightAtKill = load.InFlight;
        var killBegin = Stopwatch.GetTimestamp();
        victim.Kill9();
        var killEnd = Stopwatch.GetTimestamp();
        var completedAtKill = load.Completed;
        Assert.True(await load.WaitUntilAsync(l => l.Completed >= completedAtKill + 400), "the load stopped before 400 more requests");
        var outcomes = await load.StopAsync();

        var wrong = LoadDriver.WrongAnswers(outcomes, jwks, cluster);
        var failures = outcomes.Where(o => !o.Ok).ToList();
        var before = outcomes.Where(o => o.Done < killBegin).ToList();
        var after = outcomes.Where(o => o.Sent > killEnd).ToList();
        Report(string.Create(CultureInfo.InvariantCulture,
            $"kill -9 node {victim.Number} under load: {outcomes.Count} requests in {clock.Elapsed.TotalSeconds:F1} s, {Concurrency} in flight; " +
            $"{before.Count} answered before the kill (nodes: {string.Join(", ", before.GroupBy(o => o.Upstream).Select(g => $"{g.Key}={g.Count()}"))}), " +
            $"{inFlightAtKill} in flight at the kill signal, process gone {LoadDriver.Seconds(killBegin, killEnd) * 1000:F0} ms later, {failures.Count} failed ({string.Join(", ", failures.Select(f => f.Status is { } s ? ((int)s).ToString(CultureInfo.InvariantCulture) : "no answer"))}), " +
            $"{after.Count} sent after it ({after.Count(o => o.Ok)} OK), {wrong.Count} wrong answers"));

        Assert.Empty(wrong);
        Assert.True(inFlightAtKill > 0, "the kill did not happen under load");
        Assert.True(before.Select(o => o.Upstream).Distinct().Count() == 3, "nginx did not spread the load over the three nodes before the kill");
        // A killed process dies when the kernel has torn it down (killEnd: reaped); until then its listening socket still
        // takes connections. A failure must be a request in flight during that window, and there are never more than
        // Concurrency of those.
        Assert.True(failures.Count <= Concurrency, $"{failures.Count} failures, more than the {Concurrency} requests a client has in flight: {string.Join("; ", failures)}");
        Assert.All(failures, f =>
        {
            Assert.True(f.Sent <= killEnd && f.Done >= killBegin, $"failure of a request not in flight during the kill: {f}");
            Assert.Equal(HttpStatusCode.BadGateway, f.Status);
        });
        Assert.True(after.Count >= 300, $"only {after.Count} requests were sent after the kill");
        Assert.All(after, o => Assert.True(o.Ok && o.Upstream != Upstream(victim), $"after the kill: {o}"));
    }

    // Fewer rules than the evaluation budget's issued-claim limit (1,000), each value padded to keep the size.
    private const int PolicyRules = 400;

    private static readonly string Padding = new('p', 100);

    /// <summary>A policy of about 50 KB (a 90 KB request) whose every rule names its version, so a torn or mixed write cannot pass for a whole one.</summary>
    private static string WritePolicy(int version)
    {
        var rules = new StringBuilder();
        for (var i = 0; i < PolicyRules; i++)
        {
            rules.Append(CultureInfo.InvariantCulture, $" => issue(type=\"w{i}\", value=\"v{version}-{i}-{Padding}\");");
        }

        return $"version=1.0; authorizationrules{{=> permit();}}; issuancerules{{ => issue(type=\"write-version\", value={version});{rules} }};";
    }

    [Fact]
    public async Task Kill_9_of_a_node_in_the_middle_of_policy_writes_leaves_the_old_or_the_new_policy_whole()
    {
        // At least 3 kills, and more (8 at most) until one has landed while a write was in progress.
        const int MinRounds = 3;
        const int MaxRounds = 8;
        const int MaxWritesPerRound = 300;
        var victim = cluster.Nodes[2];
        var jwks = await cluster.JwksAsync(cluster.Nodes[0].Url);
        var version = 0;
        var midWrite = 0;
        var landedNew = 0;
        var writes = 0;
        var clock = Stopwatch.StartNew();
        var round = 0;
        while (round < MinRounds || (midWrite == 0 && round < MaxRounds))
        {
            round++;
            await cluster.EnsureAllNodesUpAsync();
            var first = version + 1;
            var acked = 0;
            var current = 0;
            var inFlight = 0;
            var failed = 0;
            Exception? failure = null;
            var writer = Task.Run(async () =>
            {
                for (var i = 0; i < MaxWritesPerRound; i++)
                {
                    var v = Interlocked.Increment(ref version);
                    var body = Api.UnsignedPolicyJws(WritePolicy(v));
                    Volatile.Write(ref current, v);
                    Volatile.Write(ref inFlight, 1);
                    try
                    {
                        var (status, answer) = await Api.SendAsync(cluster.Http, HttpMethod.Put, victim.Url + Api.PolicyPath, body, admin: true);
                        if (status != HttpStatusCode.OK)
                        {
                            failed = v;
                            failure = new InvalidOperationException($"write {v}: {(int)status} {answer}");
                            return;
                        }

                        Volatile.Write(ref acked, v);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                    {
                        failed = v;
                        failure = e;
                        return;
                    }
                    finally
                    {
                        Volatile.Write(ref inFlight, 0);
                    }
                }
            });

            // Some writes through first, then a random moment, then the kill while a write is on its way.
            await ClusterFixture.WaitForAsync(() => Task.FromResult(Volatile.Read(ref acked) >= first + 2 || writer.IsCompleted), TimeSpan.FromSeconds(30), () => "no policy write went through");
            Assert.False(writer.IsCompleted, $"the writer stopped before the kill: {failure}");
            await Task.Delay(Random.Shared.Next(0, 20));
            var spin = Stopwatch.StartNew();
            while (Volatile.Read(ref inFlight) == 0 && spin.Elapsed < TimeSpan.FromSeconds(5))
            {
                Thread.SpinWait(20);
            }

            var inFlightVersion = Volatile.Read(ref current);
            victim.Kill9();
            await writer.WaitAsync(TimeSpan.FromSeconds(30));
            var lastAcked = Volatile.Read(ref acked);
            writes += lastAcked - first + 1;
            Assert.True(failure is HttpRequestException or IOException or TaskCanceledException, $"round {round}: the write failed otherwise than by the kill: {failure}");
            Assert.Equal(lastAcked + 1, failed);
            var refused = failure is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } };
            if (!refused && failed == inFlightVersion)
            {
                midWrite++;
            }

            // Every other node reads the same, whole policy: the last acknowledged one or the one cut off by the kill.
            var stored = await Api.GetPolicyJwsAsync(cluster.Http, cluster.Nodes[0].Url);
            Assert.Equal(stored, await Api.GetPolicyJwsAsync(cluster.Http, cluster.Nodes[1].Url));
            var old = Api.UnsignedPolicyJws(WritePolicy(lastAcked));
            var @new = Api.UnsignedPolicyJws(WritePolicy(failed));
            Assert.True(stored == old || stored == @new, $"round {round}: the store holds neither write {lastAcked} nor write {failed} whole ({stored.Length} chars)");
            var holds = stored == @new ? failed : lastAcked;
            landedNew += stored == @new ? 1 : 0;

            // And it is the policy in force: an attestation through node 1 carries all of its claims.
            var sample = AttestSample.Create(cluster.Platform, cluster.Enclave);
            var (status, body) = await Api.SendAsync(cluster.Http, HttpMethod.Post, cluster.Nodes[0].Url + Api.AttestPath, sample.Body("policy-round-" + round));
            Assert.True(status == HttpStatusCode.OK, $"attest after round {round}: {(int)status} {body}");
            var token = body!["token"]!.GetValue<string>();
            Assert.Null(Api.AttestationProblem(token, jwks, cluster.LoadBalancerUrl, sample, "policy-round-" + round, cluster.Enclave));
            var claims = Api.Claims(token);
            Assert.Equal(holds, claims["write-version"]!.GetValue<int>());
            Assert.Equal($"v{holds}-0-{Padding}", claims["w0"]!.GetValue<string>());
            Assert.Equal($"v{holds}-{PolicyRules - 1}-{Padding}", claims["w" + (PolicyRules - 1)]!.GetValue<string>());
            Report($"round {round}: {lastAcked - first + 1} writes acknowledged, write {inFlightVersion} on its way at the kill, write {failed} failed ({(refused ? "connection refused: the kill came between writes" : Describe(failure!))}); store holds write {holds} ({(holds == failed ? "new" : "old")}), whole");
        }

        Report($"{round} kills, {writes} policy writes acknowledged, {midWrite} kills with a write in progress, {landedNew} of them committed, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(midWrite >= 1, "no kill landed while a write was in progress");
    }

    [Fact]
    public async Task PostgreSQL_restarted_under_load_gives_503_with_the_envelope_during_the_outage_and_the_nodes_recover_without_a_restart()
    {
        const int Concurrency = 6;
        const int MaxRequests = 10000;
        var jwks = await cluster.JwksAsync(cluster.Nodes[0].Url);
        var processes = cluster.Nodes.Select(n => (n.ProcessId, n.Starts)).ToList();
        var clock = Stopwatch.StartNew();

        await using var load = new LoadDriver(cluster, Concurrency, MaxRequests, TimeSpan.FromSeconds(90));
        Assert.True(await load.WaitUntilAsync(l => l.Completed >= 100), "the load did not get going: " + string.Join("; ", load.Outcomes.Take(5)));
        var stopBegin = Stopwatch.GetTimestamp();
        cluster.Postgres.Stop();
        var stopped = Stopwatch.GetTimestamp();
        var countAtStop = load.Completed;
        Assert.True(await load.WaitUntilAsync(l => l.Completed >= countAtStop + 60), "the load stopped during the outage");

        // Readiness tells the outage (the store check), liveness does not: a load balancer or orchestrator must not restart the nodes.
        foreach (var node in cluster.Nodes)
        {
            var (ready, readyBody) = await Api.SendAsync(cluster.Http, HttpMethod.Get, node.Url + "/health/ready");
            Assert.True(ready == HttpStatusCode.ServiceUnavailable, $"node {node.Number} ready during the outage: {(int)ready} {readyBody}");
            Assert.Equal("unreachable", readyBody!["checks"]!["store"]!["status"]!.GetValue<string>());
            var (live, _) = await Api.SendAsync(cluster.Http, HttpMethod.Get, node.Url + "/health/live");
            Assert.Equal(HttpStatusCode.OK, live);
        }

        var startBegin = Stopwatch.GetTimestamp();
        cluster.Postgres.Start();
        var started = Stopwatch.GetTimestamp();
        Assert.True(await load.WaitUntilAsync(l => l.Outcomes.Count(o => o.Ok && o.Sent > started) >= 300), "fewer than 300 attestations succeeded after PostgreSQL came back");
        var outcomes = await load.StopAsync();

        var wrong = LoadDriver.WrongAnswers(outcomes, jwks, cluster);
        var notOk = outcomes.Where(o => !o.Ok).ToList();
        var inOutage = outcomes.Where(o => o.Sent >= stopped && o.Done <= startBegin).ToList();
        var afterStart = outcomes.Where(o => o.Sent > started).ToList();
        var firstOk = afterStart.Where(o => o.Ok).Select(o => o.Done).DefaultIfEmpty(long.MaxValue).Min();
        Report(string.Create(CultureInfo.InvariantCulture,
            $"PostgreSQL restart under load: {outcomes.Count} requests in {clock.Elapsed.TotalSeconds:F1} s, {Concurrency} in flight; outage {LoadDriver.Seconds(stopBegin, started):F2} s " +
            $"(stop {LoadDriver.Seconds(stopBegin, stopped):F2} s, start {LoadDriver.Seconds(startBegin, started):F2} s); {inOutage.Count} requests wholly inside the outage ({inOutage.Count(o => o.Status == HttpStatusCode.ServiceUnavailable)} x 503); " +
            $"{notOk.Count} non-200 in all; after the restart {afterStart.Count} requests, {afterStart.Count(o => !o.Ok)} x 503, first 200 {LoadDriver.Seconds(started, firstOk):F2} s after it; {wrong.Count} wrong answers"));

        Assert.Empty(wrong);
        Assert.True(inOutage.Count >= 1, "no request fell inside the outage");
        Assert.All(inOutage, o => Assert.True(o.Status == HttpStatusCode.ServiceUnavailable, $"during the outage: {o}"));
        Assert.All(notOk, o =>
        {
            Assert.True(o.Status == HttpStatusCode.ServiceUnavailable, $"not a 503: {o}");
            var body = JsonNode.Parse(o.Body)!.AsObject();
            Assert.Equal("ServiceUnavailable", body["error"]!["code"]!.GetValue<string>());
            Assert.False(string.IsNullOrWhiteSpace(body["error"]!["message"]!.GetValue<string>()));
            Assert.False(body.ContainsKey("token"));
        });

        // Recovered and stable: the last 100 answers are all tokens, from every node, none of which was restarted.
        var tail = outcomes.TakeLast(100).ToList();
        Assert.All(tail, o => Assert.True(o.Ok, $"after recovery: {o}"));
        Assert.Equal(3, tail.Select(o => o.Upstream).Distinct().Count());
        Assert.Equal(processes, cluster.Nodes.Select(n => (n.ProcessId, n.Starts)).ToList());
        Assert.All(cluster.Nodes, n => Assert.True(n.IsRunning, $"node {n.Number} exited: {n.Output}"));
        foreach (var node in cluster.Nodes)
        {
            var (ready, readyBody) = await Api.SendAsync(cluster.Http, HttpMethod.Get, node.Url + "/health/ready");
            Assert.True(ready == HttpStatusCode.OK, $"node {node.Number} not ready after the restart: {(int)ready} {readyBody}");
            var sample = AttestSample.Create(cluster.Platform, cluster.Enclave);
            var (status, body) = await Api.SendAsync(cluster.Http, HttpMethod.Post, node.Url + Api.AttestPath, sample.Body("after-restart"));
            Assert.True(status == HttpStatusCode.OK, $"node {node.Number} after the restart: {(int)status} {body}");
            Assert.Null(Api.AttestationProblem(body!["token"]!.GetValue<string>(), jwks, cluster.LoadBalancerUrl, sample, "after-restart", cluster.Enclave));
        }
    }
}
