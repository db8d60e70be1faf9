using System.Collections.Concurrent;
using System.Net;

namespace Veritee.TestSupport;

/// <summary>
/// A loopback HTTP server (<see cref="HttpListener"/>) for tests that need a real upstream (a fake PCS or PCCS): answers
/// every request from <see cref="Handler"/> and records it.
/// </summary>
public sealed class LoopbackHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly Task _loop;

    /// <summary>Starts listening on a free loopback port.</summary>
    public LoopbackHttpServer(Func<Request, Response> handler)
    {
        Handler = handler;
        BaseAddress = new Uri($"http://127.0.0.1:{Loopback.FreePort()}/");
        _listener.Prefixes.Add(BaseAddress.AbsoluteUri);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The server's base address, ending in '/'.</summary>
    public Uri BaseAddress { get; }

    /// <summary>Answers each request; a test may swap it between requests.</summary>
    public Func<Request, Response> Handler { get; set; }

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<Request> Requests => [.. _requests];

    /// <inheritdoc />
    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under a pending accept.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body).ConfigureAwait(false);
            var raw = context.Request.RawUrl ?? "/";
            var question = raw.IndexOf('?', StringComparison.Ordinal);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            var request = new Request(context.Request.HttpMethod, question < 0 ? raw : raw[..question], question < 0 ? "" : raw[(question + 1)..], headers, body.ToArray());
            _requests.Enqueue(request);
            var response = Handler(request);
            context.Response.StatusCode = response.Status;
            foreach (var (name, value) in response.Headers)
            {
                context.Response.Headers[name] = value;
            }

            context.Response.ContentLength64 = response.Body.Length;
            await context.Response.OutputStream.WriteAsync(response.Body).ConfigureAwait(false);
            context.Response.Close();
        }
    }

    /// <summary>A request as received: method, path, query (without '?'), headers, body.</summary>
    public sealed record Request(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        /// <summary>The path with its query, as sent.</summary>
        public string PathAndQuery => Query.Length == 0 ? Path : Path + "?" + Query;
    }

    /// <summary>What the server answers.</summary>
    public sealed record Response(int Status, byte[] Body, params KeyValuePair<string, string>[] Headers);
}
