namespace Veritee.Client.Tests;

public class ClientTransportTests
{
    [Fact]
    public void Plain_http_to_a_remote_host_is_refused_unless_allowed()
    {
        var e = Assert.Throws<ArgumentException>(() => new AttestationClient(new Uri("http://attest.example.com")));
        Assert.Contains("plain http", e.Message, StringComparison.Ordinal);
        using var loopback = new AttestationClient(new Uri("http://127.0.0.1:5080"));
        using var allowed = new AttestationClient(new Uri("http://attest.example.com"), new AttestationClientOptions { AllowInsecureHttp = true });
        Assert.NotNull(allowed);
    }
}
