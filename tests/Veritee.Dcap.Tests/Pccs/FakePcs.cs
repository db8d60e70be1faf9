using System.Collections.Concurrent;
using System.Net;

namespace Veritee.Dcap.Tests.Pccs;

/// <summary>A request as the fake PCS received it.</summary>
internal sealed record FakeRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string Path => PathAndQuery.Split('?')[0];
}

/// <summary>What the fake PCS answers.</summary>
internal sealed record FakeResponse(int Status, byte[] Body, params KeyValuePair<string, string>[] Headers);

/// <summary>A PCS-shaped HTTP server on loopback (<see cref="HttpListener"/>): real HTTP, answers from a handler, requests recorded.</summary>
internal sealed class FakePcs : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<FakeRequest> _requests = new();
    private readonly Task _loop;

    public FakePcs(Func<FakeRequest, FakeResponse> handler)
    {
        Handler = handler;
        var port = TestSupport.Loopback.FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseAddress.AbsoluteUri);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri BaseAddress { get; }

    public Func<FakeRequest, FakeResponse> Handler { get; set; }

    public IReadOnlyList<FakeRequest> Requests => [.. _requests];

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
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var headers = context.Request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => context.Request.Headers[k]!, StringComparer.OrdinalIgnoreCase);
            var request = new FakeRequest(context.Request.HttpMethod, context.Request.RawUrl ?? "/", headers, body.ToArray());
            _requests.Enqueue(request);
            var response = Handler(request);
            context.Response.StatusCode = response.Status;
            foreach (var (name, value) in response.Headers)
            {
                context.Response.Headers[name] = value;
            }

            context.Response.ContentLength64 = response.Body.Length;
            await context.Response.OutputStream.WriteAsync(response.Body);
            context.Response.Close();
        }
    }
}
