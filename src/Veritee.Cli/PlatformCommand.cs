using System.CommandLine;
using System.Globalization;
using Veritee.Dcap;
using Veritee.Enclave;
using Veritee.Sgx;

namespace Veritee.Cli;

/// <summary><c>veritee platform init|collateral</c>: the simulated SGX/TDX platform and its collateral authority.</summary>
internal static class PlatformCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("platform", "Create the simulated SGX/TDX platform (its own PKI, quoting enclaves, TDX module and collateral authority) and issue its collateral.");
        command.Subcommands.Add(CreateInit(io));
        command.Subcommands.Add(CreateCollateral(io));
        return command;
    }

    /// <summary>The <c>--platform DIR</c> option shared with <c>genquote</c>.</summary>
    internal static Option<string?> PlatformOption() => new("--platform")
    {
        Description = "Simulated platform state folder (default: $VERITEE_PLATFORM_DIR or ~/.veritee/platform, the folder 'veritee serve --simulation' uses).",
    };

    internal static string PlatformFolder(ParseResult parse, Option<string?> option) =>
        parse.GetValue(option) is { Length: > 0 } folder ? folder : SimulatedPlatform.DefaultFolder;

    private static Command CreateInit(CliIo io)
    {
        var platform = PlatformOption();
        var collateral = new CollateralOptionSet(required: false);
        var command = new Command("init", "Create a new simulated platform (refuses to overwrite one); with --out, also write its collateral. Exit 0 created, 2 error.");
        command.Options.Add(platform);
        collateral.AddTo(command);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var folder = PlatformFolder(parse, platform);
            if (parse.GetValue(collateral.Out) is not { Length: > 0 } && collateral.ExplicitOptions(parse) is { Count: > 0 } stray)
            {
                throw new CliException($"{string.Join(", ", stray)} only apply with --out (the collateral folder to write)");
            }

            var now = DateTimeOffset.UtcNow;
            using var created = SimulatedPlatform.Create(folder, now);
            io.Out.WriteLine($"Created simulated SGX platform in {created.Folder}");
            Describe(io, created);
            if (parse.GetValue(collateral.Out) is { Length: > 0 })
            {
                collateral.Write(io, parse, created);
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateCollateral(CliIo io)
    {
        var platform = PlatformOption();
        var collateral = new CollateralOptionSet(required: true);
        var command = new Command("collateral", "Write the simulated platform's collateral (SGX, or TDX with --tdx) in the folder layout 'veritee verify --collateral' reads, with its root as trust_anchor.pem. Creates the platform when the folder holds none. Exit 0 written, 2 error.");
        command.Options.Add(platform);
        collateral.AddTo(command);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var folder = PlatformFolder(parse, platform);
            using var loaded = SimulatedPlatform.LoadOrCreate(folder, DateTimeOffset.UtcNow, out var created);
            if (created)
            {
                io.Out.WriteLine($"Created simulated SGX platform in {loaded.Folder}");
            }

            collateral.Write(io, parse, loaded);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void Describe(CliIo io, SimulatedPlatform platform)
    {
        var p = platform.Profile;
        io.Out.WriteLine($"  root CA:      {platform.RootCertificate.Subject}");
        io.Out.WriteLine($"  root key:     {Hex.Lower(platform.TrustAnchor.Point)}");
        io.Out.WriteLine($"  FMSPC:        {Hex.Upper(p.Fmspc)}   PCE-ID {Hex.Upper(p.PceId)}   PCESVN {p.PceSvn}");
        io.Out.WriteLine($"  TCB:          {string.Join(",", p.TcbComponents)}   QE SVN {p.QeSvn}");
        io.Out.WriteLine($"  TDX module:   TEE_TCB_SVN {Hex.Lower(p.TeeTcbSvn)}   TEE_TCB_SVN2 {Hex.Lower(p.TeeTcbSvn2)}   TD QE SVN {p.TdQeSvn}");
    }

    /// <summary>Parses a TCB status name (Intel's spelling, any case).</summary>
    internal static TcbStatus ParseStatus(string? text, string option, IReadOnlyList<TcbStatus> allowed)
    {
        var match = allowed.FirstOrDefault(s => string.Equals(s.ToWireString(), text, StringComparison.OrdinalIgnoreCase), (TcbStatus)(-1));
        return match != (TcbStatus)(-1)
            ? match
            : throw new CliException($"{option}: '{text}' is not one of {string.Join(", ", allowed.Select(s => s.ToWireString()))}");
    }

    /// <summary>The options that shape the issued collateral.</summary>
    private sealed class CollateralOptionSet(bool required)
    {
        private static readonly TcbStatus[] QeStatuses = [TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.Revoked];

        public Option<string?> Out { get; } = new("--out") { Description = "Collateral folder to write (tcb_info.json, qe_identity.json, *_issuer_chain.pem, root_ca_crl.der, pck_crl.der, trust_anchor.pem).", Required = required };

        public Option<string> TcbStatusOption { get; } = new("--tcb-status") { Description = "Status of the platform's TCB level: UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded or Revoked.", DefaultValueFactory = _ => "UpToDate" };

        public Option<string> QeTcbStatus { get; } = new("--qe-tcb-status") { Description = "Status of the quoting enclave's level in QE Identity (TD_QE Identity with --tdx): UpToDate, OutOfDate or Revoked.", DefaultValueFactory = _ => "UpToDate" };

        public Option<bool> Tdx { get; } = new("--tdx") { Description = "Issue the TDX collateral (TCB Info id TDX with the TDX module and its identities, TD_QE Identity) for TD quotes of the platform, instead of SGX." };

        public Option<string> ModuleStatus { get; } = new("--tdx-module-status") { Description = "With --tdx: status of the TDX module's SVN in its module identity (TDX_01…): UpToDate, OutOfDate or Revoked.", DefaultValueFactory = _ => "UpToDate" };

        public Option<bool> Relaunch { get; } = new("--td-relaunch") { Description = "With --tdx: the module TDs launched on is OutOfDate and the loaded one (TEE_TCB_SVN2) current, so TD 1.5 quotes verify as TDRelaunchAdvised." };

        public Option<bool> RevokePck { get; } = new("--revoke-pck") { Description = "List the platform's PCK certificate in the PCK CRL (verification fails with STATUS_SGX_PCK_REVOKED)." };

        public Option<int> ValidityDays { get; } = new("--validity-days") { Description = "Days until nextUpdate of TCB Info, QE Identity and CRLs.", DefaultValueFactory = _ => 30 };

        public Option<string?> At { get; } = new("--at") { Description = "Issue time: unix seconds or ISO-8601 (default: now)." };

        public void AddTo(Command command)
        {
            command.Options.Add(Out);
            command.Options.Add(TcbStatusOption);
            command.Options.Add(QeTcbStatus);
            command.Options.Add(Tdx);
            command.Options.Add(ModuleStatus);
            command.Options.Add(Relaunch);
            command.Options.Add(RevokePck);
            command.Options.Add(ValidityDays);
            command.Options.Add(At);
        }

        public List<string> ExplicitOptions(ParseResult parse) =>
            new Option[] { TcbStatusOption, QeTcbStatus, Tdx, ModuleStatus, Relaunch, RevokePck, ValidityDays, At }
                .Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();

        public void Write(CliIo io, ParseResult parse, SimulatedPlatform platform)
        {
            var days = parse.GetValue(ValidityDays);
            if (days is < 1 or > 3650)
            {
                throw new CliException($"--validity-days: {days} is outside 1..3650");
            }

            var tdx = parse.GetValue(Tdx);
            if (!tdx && new Option[] { ModuleStatus, Relaunch }.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList() is { Count: > 0 } tdxOnly)
            {
                throw new CliException($"{string.Join(", ", tdxOnly)} only apply with --tdx (TDX collateral)");
            }

            var options = new CollateralOptions
            {
                TcbStatus = ParseStatus(parse.GetValue(TcbStatusOption), "--tcb-status", CollateralAuthority.TcbInfoStatuses),
                QeTcbStatus = ParseStatus(parse.GetValue(QeTcbStatus), "--qe-tcb-status", QeStatuses),
                TdxModuleStatus = ParseStatus(parse.GetValue(ModuleStatus), "--tdx-module-status", CollateralAuthority.IdentityStatuses),
                TdRelaunch = parse.GetValue(Relaunch),
                RevokePck = parse.GetValue(RevokePck),
                IssuedAt = CliTime.Parse(parse.GetValue(At), DateTimeOffset.UtcNow),
                Validity = TimeSpan.FromDays(days),
            };
            var folder = parse.GetValue(Out)!;
            SimulatedCollateral collateral;
            try
            {
                collateral = CollateralAuthority.Issue(platform, options, tdx ? TeeType.Tdx : TeeType.Sgx);
            }
            catch (ArgumentException e)
            {
                throw new CliException(e.Message);
            }

            collateral.WriteTo(folder);
            var anchor = Path.Combine(folder, SimulatedCollateral.TrustAnchorFile);
            io.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Wrote {(tdx ? "TDX" : "SGX")} collateral to {folder} (TCB {options.TcbStatus.ToWireString()}, {(tdx ? "TD QE" : "QE")} {options.QeTcbStatus.ToWireString()}{(tdx ? ", TDX module " + (options.TdRelaunch ? "OutOfDate, TD relaunch advised" : options.TdxModuleStatus.ToWireString()) : string.Empty)}{(options.RevokePck ? ", PCK revoked" : string.Empty)}, valid until {options.IssuedAt.Add(options.Validity):yyyy-MM-ddTHH:mm:ssZ})"));
            io.Out.WriteLine($"Verify a quote with: veritee verify QUOTE --collateral {folder} --trust-anchor {anchor}");
        }
    }
}
