using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>
/// The built <c>veritee</c> executable as users run it (a real process, its real stdout and stderr): every usage or
/// input error is one line on stderr and exit 2, names a missing file once in its own words, and never shows a stack
/// trace.
/// </summary>
public sealed class CliProcessTests : IDisposable
{
    private static readonly string Case = Vectors.DcapCase("sgx-v3-processorca-confsw-2025-07");
    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-cli-process-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs <c>dotnet veritee.dll ARGS</c> (the CLI next to this test assembly) with no stdin.</summary>
    internal static (int Exit, string Out, string Err) Veritee(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "veritee.dll"));
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Remove("VERITEE_ADMIN_TOKEN");
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("veritee " + string.Join(' ', args) + " did not finish");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertOneLineError((int Exit, string Out, string Err) r, string expected)
    {
        var context = $"exit {r.Exit}\nstdout:\n{r.Out}\nstderr:\n{r.Err}";
        Assert.True(r.Exit == 2, context);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, context);
        Assert.StartsWith("veritee: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        foreach (var text in new[] { r.Out, r.Err })
        {
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Required command was not provided", text, StringComparison.Ordinal);
            Assert.DoesNotContain("Could not find", text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("unknown command 'frob'", "frob")]
    [InlineData("a command is needed: quickstart, verify", new string[0])]
    [InlineData("policy: a command is needed: check, eval, sign, get, set, reset", "policy")]
    [InlineData("policy: unknown command 'frob'", "policy", "frob")]
    [InlineData("verify: Option '--collateral' is required (see 'veritee verify --help')", "verify")]
    [InlineData("verify: unknown option '--frob'", "verify", "QUOTE", "--collateral", "CASE", "--frob")]
    [InlineData("token: unknown command 'frob'", "token", "frob")]
    [InlineData("policy get: an attestation type is required", "policy", "get", "--endpoint", "http://127.0.0.1:9")]
    [InlineData("attestation type 'Tpm' is not SgxEnclave, OpenEnclave or TdxVm", "policy", "get", "Tpm", "--endpoint", "http://127.0.0.1:9", "--admin-token", "x")]
    public void Usage_errors_are_one_line_on_stderr_with_exit_2(string expected, params string[] args)
    {
        var r = Veritee(args.Select(a => a switch { "QUOTE" => Path.Combine(Case, "quote.bin"), "CASE" => Case, _ => a }).ToArray());
        AssertOneLineError(r, expected);
        Assert.Equal(string.Empty, r.Out);
    }

    [Theory]
    [InlineData("verify", "MISSING", "--collateral", "CASE")]
    [InlineData("verify", "QUOTE", "--collateral", "CASE", "--trust-anchor", "MISSING")]
    [InlineData("policy", "check", "MISSING")]
    [InlineData("policy", "eval", "MISSING", "--claims", "MISSING")]
    [InlineData("attest", "MISSING", "--endpoint", "http://127.0.0.1:9")]
    [InlineData("token", "verify", "x.y.z", "--jwks", "MISSING")]
    [InlineData("signer", "sign", "MISSING", "--key", "MISSING", "--cert", "MISSING")]
    [InlineData("policy", "set", "SgxEnclave", "MISSING", "--endpoint", "http://127.0.0.1:9", "--admin-token", "x")]
    public void A_missing_file_is_named_once_in_one_line(params string[] args)
    {
        var missing = Path.Combine(_dir, "no-such-folder", "missing.file");
        var r = Veritee(args.Select(a => a switch { "MISSING" => missing, "QUOTE" => Path.Combine(Case, "quote.bin"), "CASE" => Case, _ => a }).ToArray());
        AssertOneLineError(r, "no such file");
        Assert.Equal(string.Empty, r.Out);
        Assert.Equal(2, r.Err.Split(missing).Length);
    }

    [Fact]
    public void A_folder_given_for_a_file_is_one_line()
    {
        AssertOneLineError(Veritee("verify", _dir, "--collateral", Case), $"QUOTE: {_dir} is a folder, not a file");
    }

    [Fact]
    public void A_broken_quote_file_is_named_once()
    {
        var file = Path.Combine(_dir, "broken.json");
        File.WriteAllText(file, "{\"QuoteHex\":");
        var r = Veritee("verify", file, "--collateral", Case);
        AssertOneLineError(r, "not valid JSON");
        Assert.Equal(2, r.Err.Split("broken.json").Length);
    }

    [Fact]
    public void A_file_where_a_folder_belongs_is_one_line_in_our_words()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var r = Veritee("platform", "collateral", "--out", file);
        AssertOneLineError(r, $"{file}: already exists");
        Assert.DoesNotContain("The file", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void A_serve_start_up_failure_is_one_line_without_a_stack_trace()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        // With a collateral source, so the only line on stderr is the failure (no start-up warning).
        var r = Veritee("serve", "--urls", $"http://127.0.0.1:{port}", "--data", Path.Combine(_dir, "data"), "--admin-token", "t", "--collateral", Case);
        AssertOneLineError(r, "address already in use");
    }
}
