using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Veritee.Dcap.Tests;

/// <summary>One request as the fixture saw it.</summary>
internal sealed record FixtureRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers)
{
    public string Path => Target.Split('?')[0];

    public string Query => Target.Contains('?', StringComparison.Ordinal) ? Target[(Target.IndexOf('?', StringComparison.Ordinal) + 1)..] : "";
}

/// <summary>What the fixture answers; headers are written with their names exactly as given.</summary>
internal sealed class FixtureResponse
{
    public int Status { get; init; } = 200;

    public List<KeyValuePair<string, string>> Headers { get; init; } = [];

    public byte[] Body { get; init; } = [];

    /// <summary>Omit Content-Length: the body is delimited by closing the connection.</summary>
    public bool OmitContentLength { get; init; }

    /// <summary>Declare this Content-Length instead of the body's.</summary>
    public long? DeclaredLength { get; init; }

    /// <summary>Wait before answering.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Send the body one byte at a time, this long apart (a trickling server); zero: all at once.</summary>
    public TimeSpan Trickle { get; init; }

    public static FixtureResponse Error(int status, string? errorCode = null, string? errorMessage = null, params KeyValuePair<string, string>[] extra)
    {
        var headers = new List<KeyValuePair<string, string>> { new("Request-ID", "fixture-" + status) };
        if (errorCode is not null)
        {
            headers.Add(new("Error-Code", errorCode));
        }

        if (errorMessage is not null)
        {
            headers.Add(new("Error-Message", errorMessage));
        }

        headers.AddRange(extra);
        return new FixtureResponse { Status = status, Headers = headers, Body = Encoding.ASCII.GetBytes("{\"error\":" + status + "}") };
    }
}

/// <summary>How the case server shapes its answers (the variants met in the wild, docs/verification.md §4).</summary>
internal sealed record CaseServing
{
    /// <summary>Header names in lower case (QCNL, HTTP/2 style).</summary>
    public bool LowerCaseHeaderNames { get; init; }

    /// <summary>Percent-encode only what must be (space, newline, %), leaving '+', '/', '=' literal.</summary>
    public bool MinimalEscaping { get; init; }

    /// <summary>TCB Info chain under the v3 name SGX-TCB-Info-Issuer-Chain.</summary>
    public bool V3TcbHeader { get; init; }

    /// <summary>Serve the root CA CRL at PCCS's /sgx/certification/v4/rootcacrl as upper-case hex with a trailing NUL.</summary>
    public bool HexRootCrl { get; init; }

    /// <summary>Serve both CRLs as PEM.</summary>
    public bool PemCrls { get; init; }
}

/// <summary>
/// A PCS-compatible HTTP/1.1 server on loopback (raw <see cref="TcpListener"/>: header names, framing and timing are
/// fully under the test's control). Each connection carries one request and is closed after the answer.
/// </summary>
internal sealed class PcsFixture : IAsyncDisposable
{
    public const string RootCrlPath = "/IntelSGXRootCA.der";
    public const string PccsRootCrlPath = "/sgx/certification/v4/rootcacrl";

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<FixtureRequest> _requests = new();
    private int _aborted;

    public PcsFixture(Func<FixtureRequest, FixtureResponse> handler)
    {
        Handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri BaseAddress { get; }

    public Func<FixtureRequest, FixtureResponse> Handler { get; set; }

    public IReadOnlyList<FixtureRequest> Requests => [.. _requests];

    /// <summary>Answers the client cut off before they were complete (it closed the connection).</summary>
    public int Aborted => Volatile.Read(ref _aborted);

    /// <summary>A server for the files of a vector case folder.</summary>
    public static PcsFixture ForCase(string folder, CaseServing? serving = null) => new(CaseHandler(folder, serving ?? new CaseServing()));

    /// <summary>
    /// Answers the PCS routes from the case's files with the real header shapes. It serves the case's files whatever
    /// the FMSPC, TEE or CA asked for (some cases pair mismatched collateral on purpose); tests check the URLs separately.
    /// </summary>
    public static Func<FixtureRequest, FixtureResponse> CaseHandler(string folder, CaseServing serving)
    {
        byte[] File(string name) => System.IO.File.ReadAllBytes(System.IO.Path.Combine(folder, name));
        string Name(string canonical) => serving.LowerCaseHeaderNames ? canonical.ToLowerInvariant() : canonical;
        string Chain(string file) => serving.MinimalEscaping ? EscapeMinimal(File(file)) : Uri.EscapeDataString(Encoding.UTF8.GetString(File(file)));
        byte[] Crl(string file) => serving.PemCrls ? PemCrl(File(file)) : File(file);
        FixtureResponse Ok(byte[] body, params KeyValuePair<string, string>[] headers) => new()
        {
            Body = body,
            Headers = [new(Name("Request-ID"), "fixture"), .. headers],
        };

        return request =>
        {
            var path = request.Path;
            if (path.EndsWith("/tcb", StringComparison.Ordinal))
            {
                return Ok(File("tcb_info.json"), KeyValuePair.Create(Name(serving.V3TcbHeader ? "SGX-TCB-Info-Issuer-Chain" : "TCB-Info-Issuer-Chain"), Chain("tcb_info_issuer_chain.pem")),
                    KeyValuePair.Create(Name("Content-Type"), "application/json"));
            }

            if (path.EndsWith("/qe/identity", StringComparison.Ordinal))
            {
                return Ok(File("qe_identity.json"), KeyValuePair.Create(Name("SGX-Enclave-Identity-Issuer-Chain"), Chain("qe_identity_issuer_chain.pem")),
                    KeyValuePair.Create(Name("Content-Type"), "application/json"));
            }

            if (path.EndsWith("/pckcrl", StringComparison.Ordinal))
            {
                return Ok(Crl("pck_crl.der"), KeyValuePair.Create(Name("SGX-PCK-CRL-Issuer-Chain"), Chain("pck_crl_issuer_chain.pem")));
            }

            if (path == RootCrlPath)
            {
                return Ok(Crl("root_ca_crl.der"));
            }

            if (path == PccsRootCrlPath && serving.HexRootCrl)
            {
                return Ok([.. Encoding.ASCII.GetBytes(Convert.ToHexString(File("root_ca_crl.der"))), 0]);
            }

            return FixtureResponse.Error(404, "NotFound", "no such route " + path);
        };
    }

    /// <summary>Percent-encodes only space, line breaks and '%': '+' '/' '=' stay literal, as some servers send them.</summary>
    public static string EscapeMinimal(byte[] text)
    {
        var sb = new StringBuilder();
        foreach (var c in Encoding.UTF8.GetString(text))
        {
            sb.Append(c switch
            {
                ' ' => "%20",
                '\n' => "%0A",
                '\r' => "%0D",
                '%' => "%25",
                '\0' => "%00",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    public static byte[] PemCrl(byte[] der) =>
        Encoding.ASCII.GetBytes("-----BEGIN X509 CRL-----\n" + Convert.ToBase64String(der, Base64FormattingOptions.InsertLineBreaks) + "\n-----END X509 CRL-----\n");

    public int Count(string pathSuffix) => Requests.Count(r => r.Path.EndsWith(pathSuffix, StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            var request = await ReadRequestAsync(stream);
            if (request is null)
            {
                return;
            }

            _requests.Enqueue(request);
            var response = Handler(request);
            if (response.Delay > TimeSpan.Zero)
            {
                await Task.Delay(response.Delay, _stop.Token);
            }

            var head = new StringBuilder($"HTTP/1.1 {response.Status} {Reason(response.Status)}\r\n");
            foreach (var (name, value) in response.Headers)
            {
                head.Append(name).Append(": ").Append(value).Append("\r\n");
            }

            if (!response.OmitContentLength)
            {
                head.Append("Content-Length: ").Append(response.DeclaredLength ?? response.Body.Length).Append("\r\n");
            }

            head.Append("Connection: close\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), _stop.Token);
            if (response.Trickle > TimeSpan.Zero)
            {
                try
                {
                    for (var i = 0; i < response.Body.Length; i++)
                    {
                        await stream.WriteAsync(response.Body.AsMemory(i, 1), _stop.Token);
                        await stream.FlushAsync(_stop.Token);
                        await Task.Delay(response.Trickle, _stop.Token);
                    }
                }
                catch (IOException)
                {
                    Interlocked.Increment(ref _aborted);
                    throw;
                }
            }
            else
            {
                await stream.WriteAsync(response.Body, _stop.Token);
            }

            await stream.FlushAsync(_stop.Token);
            client.Client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away (timeouts, size limits): nothing to do.
        }
    }

    private static async Task<FixtureRequest?> ReadRequestAsync(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (buffer.Count < 64 * 1024)
        {
            if (await stream.ReadAsync(one) == 0)
            {
                return null;
            }

            buffer.Add(one[0]);
            if (buffer.Count >= 4 && buffer[^4] == '\r' && buffer[^3] == '\n' && buffer[^2] == '\r' && buffer[^1] == '\n')
            {
                break;
            }
        }

        var lines = Encoding.ASCII.GetString([.. buffer]).Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        return new FixtureRequest(requestLine[0], requestLine[1], headers);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}
