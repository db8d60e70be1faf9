using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Veritee.Enclave;
using Veritee.TestSupport;

namespace Veritee.Cluster.Tests;

/// <summary>Every cluster test class shares one cluster (started once, about 10 s) and runs one after another.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}

/// <summary>
/// A cluster on loopback, from the machine's packages and the built CLI: a throwaway PostgreSQL, a simulated SGX
/// platform folder, three <c>veritee serve</c> processes on one PostgreSQL database (same instance URL, admin token
/// and platform), and nginx in front (TLS, round robin, next upstream on connection errors only). Every process
/// started here is killed in <see cref="DisposeAsync"/>, also when start-up fails half way.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string AdminToken = "cluster-admin-token";

    /// <summary>The instance's key-encryption key ($VERITEE_KEK of every node), generated per run.</summary>
    public static readonly string KeyEncryptionKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    public const int NodeCount = 3;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "veritee-cluster-" + Guid.NewGuid().ToString("N"));
    private readonly List<NodeProcess> _nodes = [];
    private Process? _nginx;
    private byte[] _lbCertificate = [];

    public PostgresServer Postgres { get; private set; } = null!;

    public SimulatedPlatform Platform { get; private set; } = null!;

    /// <summary>The enclave whose quotes the tests send.</summary>
    public SimulatedEnclave Enclave { get; private set; } = null!;

    /// <summary>https://127.0.0.1:PORT of nginx: the instance URL (token issuer) of every node.</summary>
    public string LoadBalancerUrl { get; private set; } = string.Empty;

    /// <summary>PEM of nginx's self-signed certificate (for Node's NODE_EXTRA_CA_CERTS).</summary>
    public string LoadBalancerCertificatePem { get; private set; } = string.Empty;

    /// <summary>A client that trusts exactly nginx's certificate (and talks plain http to the nodes).</summary>
    public HttpClient Http { get; private set; } = new();

    /// <summary>The PostgreSQL connection string the nodes share.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    public string LogFolder => _folder;

    /// <summary>A client for the load tests: its own connection pool of <paramref name="connections"/> to nginx, same trust.</summary>
    public HttpClient CreateClient(int connections) => new(Handler(connections)) { Timeout = TimeSpan.FromSeconds(30) };

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync();
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        Directory.CreateDirectory(_folder);
        Postgres = await PostgresServer.StartAsync();
        Postgres.CreateDatabase("veritee");
        ConnectionString = Postgres.ConnectionString("veritee");

        var platformFolder = Path.Combine(_folder, "platform");
        Platform = SimulatedPlatform.Create(platformFolder, DateTimeOffset.UtcNow);
        Enclave = new SimulatedEnclave
        {
            MrEnclave = SimulatedEnclave.MeasureName("veritee-cluster-test"),
            MrSigner = SimulatedEnclave.MrSignerOf(Platform.EnclaveSignerKey),
            ProductId = 11,
            SecurityVersion = 4,
            Debug = false,
        };

        var lbPort = Loopback.FreePort();
        LoadBalancerUrl = $"https://127.0.0.1:{lbPort}";
        WriteLoadBalancerCertificate();
        Http.Dispose();
        Http = new HttpClient(Handler(16)) { Timeout = TimeSpan.FromSeconds(30) };

        var cli = CliDll();
        for (var i = 0; i < NodeCount; i++)
        {
            _nodes.Add(new NodeProcess(i + 1, cli, Loopback.FreePort(), Path.Combine(_folder, $"node{i + 1}"), ConnectionString, LoadBalancerUrl, platformFolder));
        }

        // All three start at once on the empty database: migrations and the instance key race, as in a real roll-out.
        foreach (var node in _nodes)
        {
            node.Start();
        }

        await Task.WhenAll(_nodes.Select(n => n.WaitReadyAsync(Http)));
        StartNginx(lbPort);
        await WaitForAsync(async () =>
        {
            using var response = await Http.GetAsync(LoadBalancerUrl + "/certs");
            return response.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(30), () => "nginx did not answer: " + ReadLog("nginx-error.log"));
    }

    /// <summary>Restarts every node that is not running (after a kill) and waits until all answer.</summary>
    public async Task EnsureAllNodesUpAsync()
    {
        foreach (var node in _nodes.Where(n => !n.IsRunning))
        {
            node.Start();
        }

        await Task.WhenAll(_nodes.Select(n => n.WaitReadyAsync(Http)));

        // nginx takes a node it saw fail back after fail_timeout (2 s): wait until it routes to every node again.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var expected = _nodes.Select(n => $"127.0.0.1:{n.Port}").ToHashSet(StringComparer.Ordinal);
        await WaitForAsync(async () =>
        {
            using var response = await Http.GetAsync(LoadBalancerUrl + "/certs");
            if (response.StatusCode == HttpStatusCode.OK && response.Headers.TryGetValues("X-Veritee-Upstream", out var upstream))
            {
                seen.UnionWith(upstream);
            }

            return expected.IsSubsetOf(seen);
        }, TimeSpan.FromSeconds(20), () => $"nginx routed only to {string.Join(", ", seen)}");
    }

    /// <summary>The JWKS as one node publishes it.</summary>
    public async Task<JsonObject> JwksAsync(string baseUrl) => (JsonObject)JsonNode.Parse(await Http.GetStringAsync(baseUrl + "/certs"))!;

    /// <summary>Removes the stored SgxEnclave policy (back to the default) through node 1.</summary>
    public async Task ResetPolicyAsync()
    {
        var (status, body) = await Api.SendAsync(Http, HttpMethod.Post, _nodes[0].Url + "/policies/SgxEnclave:reset?api-version=2022-08-01", Api.UnsignedPolicyJws(null), admin: true);
        Assert.True(status == HttpStatusCode.OK, $"reset: {(int)status} {body}");
    }

    public string ReadLog(string name)
    {
        var path = Path.Combine(_folder, name);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : "(no " + name + ")";
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_nginx is not null)
        {
            Kill(_nginx);
            _nginx.Dispose();
            _nginx = null;
        }

        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        _nodes.Clear();
        Platform?.Dispose();
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
            Postgres = null!;
        }

        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A log still held open by a dying process; the folder is under the temporary directory.
        }
        catch (UnauthorizedAccessException)
        {
            // nginx's temporary folders belong to its worker user.
        }
    }

    /// <summary>Polls <paramref name="ready"/> (connection errors count as not ready) until it holds or the time is up.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> ready, TimeSpan limit, Func<string> describe)
    {
        var until = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                // Not listening yet.
            }

            if (Stopwatch.GetTimestamp() > until)
            {
                throw new TimeoutException(describe());
            }

            await Task.Delay(100);
        }
    }

    internal static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private SocketsHttpHandler Handler(int connections)
    {
        var trusted = _lbCertificate;
        return new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetRawCertData().AsSpan().SequenceEqual(trusted),
            },
        };
    }

    private void WriteLoadBalancerCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        _lbCertificate = cert.RawData;
        LoadBalancerCertificatePem = cert.ExportCertificatePem() + "\n";
        File.WriteAllText(Path.Combine(_folder, "lb.crt"), LoadBalancerCertificatePem);
        File.WriteAllText(Path.Combine(_folder, "lb.key"), key.ExportPkcs8PrivateKeyPem() + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(_folder, "lb.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>nginx from the Debian package, in the foreground, with a config of its own in the cluster folder.</summary>
    private void StartNginx(int port)
    {
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx not found (apt-get install nginx; .ci/run installs it)");
        var prefix = Path.Combine(_folder, "nginx");
        Directory.CreateDirectory(prefix);
        var upstreams = string.Concat(_nodes.Select(n => $"        server 127.0.0.1:{n.Port} max_fails=1 fail_timeout=2s;\n"));
        var config = $$"""
            # Generated by the cluster tests: loopback only, foreground, everything under {{prefix}}.
            daemon off;
            master_process on;
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{_folder}}/nginx-error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                upstream veritee {
            {{upstreams}}        keepalive 16;
                }
                server {
                    listen 127.0.0.1:{{port}} ssl;
                    ssl_certificate {{_folder}}/lb.crt;
                    ssl_certificate_key {{_folder}}/lb.key;
                    ssl_protocols TLSv1.2 TLSv1.3;
                    client_max_body_size 1m;
                    location / {
                        proxy_pass http://veritee;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        # Another node only when this one refused the connection or failed before answering; nginx never
                        # repeats a POST that reached a node (no non_idempotent), so an attestation is never sent twice.
                        proxy_next_upstream error timeout;
                        proxy_next_upstream_tries 3;
                        proxy_connect_timeout 2s;
                        proxy_read_timeout 30s;
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $remote_addr;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        add_header X-Veritee-Upstream $upstream_addr always;
                    }
                }
            }
            """;
        var file = Path.Combine(_folder, "nginx.conf");
        File.WriteAllText(file, config);
        var psi = new ProcessStartInfo(nginx) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-e", Path.Combine(_folder, "nginx-error.log"), "-c", file, "-p", prefix + "/" })
        {
            psi.ArgumentList.Add(arg);
        }

        _nginx = Process.Start(psi) ?? throw new InvalidOperationException("could not start nginx");
        _nginx.OutputDataReceived += (_, _) => { };
        _nginx.ErrorDataReceived += (_, _) => { };
        _nginx.BeginOutputReadLine();
        _nginx.BeginErrorReadLine();
    }

    private static string CliDll()
    {
        var configuration = typeof(ClusterFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "VeriteeConfiguration").Value!;
        var dll = Path.Combine(Vectors.RepositoryRoot, "src", "Veritee.Cli", "bin", configuration, "net10.0", "veritee.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} not built (dotnet build -c {configuration})");
    }
}

/// <summary>One <c>veritee serve</c> process (the built CLI), restartable on the same port after a kill.</summary>
public sealed class NodeProcess(int number, string cliDll, int port, string dataFolder, string connectionString, string instanceUrl, string platformFolder) : IDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public int Number { get; } = number;

    public int Port { get; } = port;

    public string Url { get; } = $"http://127.0.0.1:{port}";

    /// <summary>How many times this node was started (a restart by the tests counts).</summary>
    public int Starts { get; private set; }

    public int? ProcessId => _process?.Id;

    public bool IsRunning => _process is { HasExited: false };

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public void Start()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"node {Number} is already running");
        }

        _process?.Dispose();
        Directory.CreateDirectory(dataFolder);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            cliDll, "serve", "--urls", Url, "--data", dataFolder, "--store", "postgres", "--connection-string", connectionString,
            "--instance-url", instanceUrl, "--admin-token", ClusterFixture.AdminToken, "--simulation", "--platform", platformFolder,
            "--trusted-proxy", "127.0.0.1", "--log-level", "warning",
        })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        // A shared store keeps the instance key sealed: every node gets the same key-encryption key.
        psi.Environment["VERITEE_KEK"] = ClusterFixture.KeyEncryptionKey;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Starts++;
    }

    /// <summary>kill -9 (SIGKILL: no shutdown, no flush, connections cut).</summary>
    public void Kill9()
    {
        var process = _process ?? throw new InvalidOperationException($"node {Number} was never started");
        process.Kill(entireProcessTree: false);
        process.WaitForExit(10_000);
    }

    /// <summary>Waits until the node answers /certs (60 s at most); fails with its output when it exits or never answers.</summary>
    public Task WaitReadyAsync(HttpClient http) => ClusterFixture.WaitForAsync(async () =>
    {
        if (!IsRunning)
        {
            throw new InvalidOperationException($"node {Number} exited with {_process?.ExitCode}: {Output}");
        }

        using var response = await http.GetAsync(Url + "/certs");
        return response.StatusCode == HttpStatusCode.OK;
    }, TimeSpan.FromSeconds(60), () => $"node {Number} did not answer on {Url}: {Output}");

    public void Dispose()
    {
        if (_process is not null)
        {
            ClusterFixture.Kill(_process);
            _process.Dispose();
            _process = null;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
