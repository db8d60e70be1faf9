using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Veritee.TestSupport;

namespace Veritee.Cli.Tests;

/// <summary>One <c>veritee serve</c> process (the built CLI) with its output; killed on dispose.</summary>
internal sealed partial class ServeProcess : IDisposable
{
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();
    private readonly Process _process;

    private ServeProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_out, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_err, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The built CLI beside the tests (the project reference copies it with its runtime configuration).</summary>
    public static string CliDll { get; } = Path.Combine(AppContext.BaseDirectory, "veritee.dll");

    public string Out => Read(_out);

    public string Err => Read(_err);

    /// <summary>The instance URL the process printed once it listened.</summary>
    public string Instance { get; private set; } = string.Empty;

    /// <summary>Runs <c>bash -c</c> with <c>veritee</c> defined as the built CLI (exec: killing the process kills serve).</summary>
    public static ServeProcess StartShell(string commandLine, string folder)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"veritee() {{ exec dotnet '{CliDll}' \"$@\"; }}; {commandLine}");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return new ServeProcess(Process.Start(psi) ?? throw new InvalidOperationException("could not start bash"));
    }

    public static ServeProcess Start(string folder, params string[] args) =>
        StartShell("veritee serve " + string.Join(' ', args.Select(a => "'" + a + "'")), folder);

    /// <summary>Waits for the "instance URL" line (60 s at most); fails with the output when the process exits first.</summary>
    public async Task<ServeProcess> WaitListening()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (InstanceLine().Match(Out) is { Success: true } match)
            {
                Instance = match.Groups[1].Value;
                return this;
            }

            if (_process.HasExited)
            {
                break;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"serve did not start: {Out}\n{Err}");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private static string Read(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is not null)
        {
            lock (builder)
            {
                builder.AppendLine(line);
            }
        }
    }

    [GeneratedRegex(@"veritee serve: instance (\S+),")]
    private static partial Regex InstanceLine();
}

/// <summary>A fresh <c>veritee serve --simulation</c> on a new data folder, started once for the tests below.</summary>
public sealed class FreshServe : IAsyncLifetime
{
    private ServeProcess? _serve;

    public string Folder { get; } = Directory.CreateTempSubdirectory("veritee-serve-cli").FullName;

    public string Data => Path.Combine(Folder, "data");

    public string Out => _serve!.Out;

    public string Err => _serve!.Err;

    public string Instance => _serve!.Instance;

    public async Task InitializeAsync()
    {
        // The test's own folder is traversable, so the data folder's own mode is what keeps other users out.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Folder, (UnixFileMode)0b111_101_101);
        }

        _serve = ServeProcess.Start(Folder, "--urls", "http://127.0.0.1:0", "--data", Data, "--simulation", "--platform", Path.Combine(Data, "platform"));
        await _serve.WaitListening();
    }

    public Task DisposeAsync()
    {
        _serve?.Dispose();
        Directory.Delete(Folder, recursive: true);
        return Task.CompletedTask;
    }
}

public sealed class ServeCliTests(FreshServe fresh) : IClassFixture<FreshServe>, IDisposable
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string _dir = Directory.CreateTempSubdirectory("veritee-serve-cli-in").FullName;

    /// <summary>A PostgreSQL address that refuses at once: start-ups that got past validation fail fast instead of serving.</summary>
    private const string NoDatabase = "Host=127.0.0.1;Port=1;Database=none;Timeout=2";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs the command in process; a start-up that should have been refused but serves instead fails the test.</summary>
    private static (int Exit, string Out, string Err) Run(params string[] args) => CliRun.RunRefusedServe(args);

    private string Kek(UnixFileMode mode)
    {
        var path = Path.Combine(_dir, "kek-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }

        return path;
    }

    [Fact]
    public void After_a_fresh_start_no_other_user_can_read_anything_under_the_data_folder()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var files = Directory.GetFiles(fresh.Data, "*", SearchOption.AllDirectories);

        var root = Environment.UserName == "root";
        foreach (var path in files.Concat(Directory.GetDirectories(fresh.Data, "*", SearchOption.AllDirectories)).Append(fresh.Data))
        {
            Assert.True((File.GetUnixFileMode(path) & GroupOrOthers) == 0, $"{path} is {File.GetUnixFileMode(path)}");
            if (root && File.Exists(path))
            {
                // CI runs as root: try it as another user.
                using var cat = Process.Start(new ProcessStartInfo("runuser", ["-u", "nobody", "--", "cat", path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                var read = cat.StandardOutput.ReadToEnd();
                cat.WaitForExit();
                Assert.True(cat.ExitCode != 0 && read.Length == 0, $"user nobody read {path}");
            }
        }

        foreach (var expected in new[] { "veritee.db", "admin-token", "key-encryption-key", "platform/root-ca.key.pem", "platform/platform.json" })
        {
            Assert.Contains(Path.Combine(fresh.Data, expected), files);
        }
    }

    [Fact]
    public void Simulation_warns_loudly_and_the_collateral_sources_are_printed()
    {
        Assert.Contains("WARNING: SIMULATION MODE", fresh.Err, StringComparison.Ordinal);
        Assert.Contains("veritee-simulated: true and PROVE NOTHING", fresh.Err, StringComparison.Ordinal);
        Assert.Contains("collateral sources: simulated platform " + Path.Combine(fresh.Data, "platform"), fresh.Out, StringComparison.Ordinal);
        Assert.Matches(@"^http://127\.0\.0\.1:[1-9][0-9]*$", fresh.Instance);
    }

    [Theory]
    [InlineData("http//127.0.0.1:5080")]
    [InlineData("htp://127.0.0.1:5080")]
    [InlineData("http://127.0.0.1:5080x")]
    public void A_typo_in_urls_exits_2_with_one_line_and_writes_nothing(string url)
    {
        var data = Path.Combine(_dir, "data");
        var (exit, _, err) = Run("serve", "--urls", url, "--data", data);
        Assert.Equal(2, exit);
        Assert.Single(err.TrimEnd('\n').Split('\n'));
        Assert.Contains("--urls", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public void An_unspecified_address_needs_instance_url_and_writes_nothing()
    {
        var data = Path.Combine(_dir, "data");
        var kek = Kek(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (exit, _, err) = Run("serve", "--urls", "http://0.0.0.0:5080", "--data", data, "--store", "postgres", "--connection-string", NoDatabase, "--key-encryption-key-file", kek);
        Assert.Equal(2, exit);
        Assert.Contains("--instance-url", err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public void A_key_file_other_users_can_read_is_refused_naming_the_chmod()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var kek = Kek(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (exit, _, err) = Run("serve", "--data", Path.Combine(_dir, "data"), "--store", "postgres", "--connection-string", NoDatabase, "--key-encryption-key-file", kek);
        Assert.Equal(2, exit);
        Assert.Contains($"chmod 600 {kek}", err, StringComparison.Ordinal);
    }

    [Fact]
    public void An_admin_token_file_other_users_can_read_is_refused_naming_the_chmod()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        var token = Path.Combine(data, "admin-token");
        File.WriteAllText(token, "0123456789abcdef");
        File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        var (exit, _, err) = Run("serve", "--data", data, "--store", "postgres", "--connection-string", NoDatabase, "--key-encryption-key-file", Kek(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        Assert.Equal(2, exit);
        Assert.Contains($"chmod 600 {token}", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_http_beyond_loopback_and_a_missing_collateral_source_are_warned_about()
    {
        using var serve = await ServeProcess.Start(_dir, "--urls", "http://0.0.0.0:0", "--instance-url", "http://attest.test", "--data", Path.Combine(_dir, "data")).WaitListening();
        Assert.Contains("WARNING: http://0.0.0.0:0 serves plain HTTP beyond this machine", serve.Err, StringComparison.Ordinal);
        Assert.Contains("--collateral DIR, --collateral-service intel|azure|URL or --simulation", serve.Err, StringComparison.Ordinal);
        Assert.Equal("http://attest.test", serve.Instance);
    }

    [Fact]
    public async Task The_ops_budget_is_set_from_the_command_line()
    {
        using var serve = await ServeProcess.Start(_dir, "--urls", "http://127.0.0.1:0", "--data", Path.Combine(_dir, "data"), "--admin-token", "t",
            "--ops-rate-limit", "1", "--rate-limit", "0").WaitListening();
        using var http = new HttpClient();
        var statuses = new List<System.Net.HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await http.GetAsync(serve.Instance + "/health/live");
            statuses.Add(response.StatusCode);
        }

        // One probe a second for this client (the default budget, 10/s, would answer all ten); attestation is unlimited.
        Assert.Contains(System.Net.HttpStatusCode.TooManyRequests, statuses);
        Assert.Equal(System.Net.HttpStatusCode.OK, statuses[0]);
    }

    [Fact]
    public async Task The_OpenAPI_document_is_served_by_default_and_openapi_off_makes_its_path_404()
    {
        using var http = new HttpClient();
        using (var served = await http.GetAsync(fresh.Instance + "/openapi/v1.json"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, served.StatusCode);
            Assert.StartsWith("3.1", System.Text.Json.Nodes.JsonNode.Parse(await served.Content.ReadAsStringAsync())!["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        using var serve = await ServeProcess.Start(_dir, "--urls", "http://127.0.0.1:0", "--data", Path.Combine(_dir, "data"), "--admin-token", "t", "--openapi", "off").WaitListening();
        using var off = await http.GetAsync(serve.Instance + "/openapi/v1.json");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, off.StatusCode);
        Assert.Equal("NotFound", Assert.Single(off.Headers.GetValues("x-ms-error-code")));
        Assert.Contains("\"code\":\"NotFound\"", await off.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--openapi maybe", "--openapi must be on or off, not 'maybe'")]
    [InlineData("--openapi-ui yes", "--openapi-ui must be on or off, not 'yes'")]
    [InlineData("--openapi off --openapi-ui on", "--openapi-ui on needs --openapi on")]
    [InlineData("--key-refresh-interval 0", "--key-refresh-interval must be in [1, 300] seconds, not 0")]
    [InlineData("--key-refresh-interval 0.5", "--key-refresh-interval must be in [1, 300] seconds, not 0.5")]
    [InlineData("--key-refresh-interval 301", "--key-refresh-interval must be in [1, 300] seconds, not 301")]
    public void A_bad_setting_is_one_line_and_writes_nothing(string options, string message)
    {
        var data = Path.Combine(_dir, "data");
        var (exit, _, err) = Run(["serve", "--data", data, .. options.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Equal("veritee: " + message, err.Trim());
        Assert.False(Directory.Exists(data));
    }

    [Theory]
    [InlineData("--ops-rate-limit")]
    [InlineData("--ops-max-concurrency")]
    public void A_negative_ops_budget_is_one_line_and_writes_nothing(string option)
    {
        var data = Path.Combine(_dir, "data");
        var (exit, _, err) = Run("serve", "--data", data, option, "-1");
        Assert.Equal(2, exit);
        Assert.Equal($"veritee: {option} must not be negative", err.Trim());
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public async Task Isolated_mode_is_managed_with_the_READMEs_commands_exactly_as_written()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(Vectors.RepositoryRoot, "README.md"));
        var block = Regex.Match(readme, @"An isolated instance, managed as MAA's[^\n]*\n\n```sh\n(?<cmds>.*?)```", RegexOptions.Singleline);
        Assert.True(block.Success, "README has no isolated-mode block");
        var lines = block.Groups["cmds"].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);

        // Only the port changes (tests run in parallel); everything else is run as the README says.
        var port = Loopback.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        string Line(int i) => lines[i].Replace(":5080", ":" + port, StringComparison.Ordinal);
        File.Copy(Path.Combine(Vectors.Directory, "maa", "policies", "service-defaults", "sgx-openenclave-default.2022-05-31.wus.txt"), Path.Combine(_dir, "policy.txt"));

        Assert.StartsWith("veritee cert create", lines[0], StringComparison.Ordinal);
        Assert.Equal(0, Shell(Line(0)).Exit);
        Assert.EndsWith(" &", lines[1], StringComparison.Ordinal);
        using var serve = await ServeProcess.StartShell(Line(1)[..^2], _dir).WaitListening();
        var set = Shell(Line(2));
        Assert.True(set.Exit == 0, set.Out + set.Err + serve.Out + serve.Err);
        Assert.Contains("SgxEnclave policy Updated", set.Out, StringComparison.Ordinal);
        var get = Shell(Line(3));
        Assert.Equal(0, get.Exit);
        Assert.Contains("issuancerules", get.Out, StringComparison.Ordinal);

        // Without the signature the same bearer is refused: both are needed.
        var unsigned = Shell(Line(2)[..Line(2).IndexOf(" --key ", StringComparison.Ordinal)]);
        Assert.Equal(1, unsigned.Exit);
    }

    private (int Exit, string Out, string Err) Shell(string commandLine)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"veritee() {{ dotnet '{ServeProcess.CliDll}' \"$@\"; }}; {commandLine}");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), commandLine + " did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
