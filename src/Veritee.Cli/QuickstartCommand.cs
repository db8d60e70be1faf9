using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Veritee.Client;
using Veritee.Enclave;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary>
/// <c>veritee quickstart</c>: the whole samples flow on embedded defaults, in one process: a local MAA-compatible
/// service on a free loopback port (SQLite in a temporary folder), a simulated SGX platform, the samples' four
/// enclave.info files and one TD (td.info.json) on the same platform, attestation of each, token validation against
/// the service's pinned /certs, the comparison and the samples' report.
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create(CliIo io)
    {
        var details = new Option<bool>("--details") { Description = "Show both values of every check." };
        var keep = new Option<bool>("--keep") { Description = "Keep the temporary folder (platform, quotes, store) and print where it is; without it the folder is removed at the end." };
        var command = new Command("quickstart", "Run the whole attestation flow on embedded defaults: local service, simulated SGX enclaves and a simulated TDX TD, attest, validate, report. Exit 0 when the four enclaves and the TD pass.");
        command.Options.Add(details);
        command.Options.Add(keep);
        command.SetAction(VeriteeCommand.Guard(parse => RunAsync(io, parse.GetValue(details), parse.GetValue(keep)).GetAwaiter().GetResult()));
        return command;
    }

    private static async Task<int> RunAsync(CliIo io, bool withDetails, bool keep)
    {
        var clock = Stopwatch.StartNew();
        var folder = Path.Combine(Path.GetTempPath(), "veritee-quickstart-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        var platformFolder = Path.Combine(folder, "platform");
        var quotes = Path.Combine(folder, "quotes");
        var url = $"http://127.0.0.1:{FreePort()}";
        void Step(int n, string text) => io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{n}/5] {text}  ({clock.Elapsed.TotalSeconds:F1} s)"));

        try
        {
            Step(1, $"Starting a local MAA-compatible service on {url} (SQLite in {folder}, simulation on)");
            var options = new ServiceOptions
            {
                InstanceUrl = url,
                DataDirectory = Path.Combine(folder, "data"),
                AdminToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                SimulationPlatformDirectory = platformFolder,

                // The report is the output; the service's own log lines would only interleave with it.
                LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            };
            var app = await VeriteeServer.BuildAsync(options, url).ConfigureAwait(false);
            await app.StartAsync().ConfigureAwait(false);
            try
            {
                Step(2, $"Simulated SGX and TDX platform ready in {platformFolder}");
                Step(3, $"Generating the samples' four enclave.info files and one {TdInfo.DefaultFileName} in {quotes}");
                Directory.CreateDirectory(quotes);
                var files = new List<(string Name, EnclaveInfo Info)>();
                TdInfo td;
                using (var platform = SimulatedPlatform.Load(platformFolder))
                {
                    var release = new SimulatedEnclave
                    {
                        MrEnclave = SimulatedEnclave.MeasureName(SimulatedEnclave.DefaultName),
                        MrSigner = SimulatedEnclave.MrSignerOf(platform.EnclaveSignerKey),
                    };
                    foreach (var (name, enclave) in SampleVariants.Of(release))
                    {
                        var info = SampleVariants.Generate(platform, enclave);
                        await File.WriteAllTextAsync(Path.Combine(quotes, name), info.ToJson()).ConfigureAwait(false);
                        files.Add((name, info));
                    }

                    // The TD binds its runtime data (here a JSON document, as Azure's paravisor does) like the enclaves bind their EHD.
                    var runtime = System.Text.Encoding.UTF8.GetBytes("{\"nonce\":\"" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)) + "\"}");
                    var quote = platform.TdQuote(SimulatedTd.CreateDefault(), TdInfo.ReportDataFor(runtime));
                    td = TdInfo.FromQuote(quote, runtime, runtimeDataIsJson: true);
                    td.Save(Path.Combine(quotes, TdInfo.DefaultFileName));
                }

                Step(4, "Attesting each file (POST /attest/SgxEnclave, /attest/TdxVm) and validating the token with keys from the service's /certs");
                using var client = new AttestationClient(new Uri(url));
                var passed = 0;
                var reports = new List<(string Name, EnclaveInfoReport Report)>();
                foreach (var (name, info) in files)
                {
                    var report = await EnclaveInfoComparison.AttestAsync(client, info).ConfigureAwait(false);
                    reports.Add((name, report));
                    passed += report.AllPassed ? 1 : 0;
                }

                var tdReport = await TdInfoComparison.AttestAsync(client, td).ConfigureAwait(false);

                Step(5, "Report");
                foreach (var (name, report) in reports)
                {
                    io.Out.WriteLine();
                    io.Out.WriteLine("== " + name);
                    AttestCommand.PrintReport(io.Out, report, url, withDetails);
                }

                io.Out.WriteLine();
                io.Out.WriteLine("== " + TdInfo.DefaultFileName);
                AttestCommand.PrintTdReport(io.Out, tdReport, url, withDetails);

                io.Out.WriteLine();
                io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"quickstart: {passed} of {files.Count} enclaves attested, validated and matched in {clock.Elapsed.TotalSeconds:F1} s"));
                io.Out.WriteLine($"quickstart: the TD {(tdReport.AllPassed ? "was" : "was NOT")} attested, validated and matched (MRTD, RTMRs, attributes, runtime data)");
                io.Out.WriteLine("Next: 'veritee genquote --simulate --out DIR' (or --tdx), 'veritee serve --simulation' and 'veritee attest DIR/enclave.info.release.json --endpoint http://127.0.0.1:5080' (or DIR/td.info.json) do the same with files you keep.");
                return passed == files.Count && tdReport.AllPassed ? ExitCodes.Ok : ExitCodes.Negative;
            }
            finally
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is AttestationException or AttestationTokenValidationException or HttpRequestException or IOException or PlatformStateException)
        {
            throw new CliException("quickstart failed: " + e.Message, ExitCodes.Negative);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            // The steps above name this folder: say what became of it.
            if (keep)
            {
                io.Out.WriteLine($"Kept {folder} (platform, quotes, data): delete it when done.");
            }
            else
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }

                io.Out.WriteLine($"Removed {folder} (--keep keeps it).");
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
