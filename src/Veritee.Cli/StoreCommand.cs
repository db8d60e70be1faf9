using System.CommandLine;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary><c>veritee store rekey|roll-key</c>: maintenance of the service's keys while the nodes run.</summary>
internal static class StoreCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("store", "Maintain the store 'veritee serve' keeps (SQLite in --data, or PostgreSQL).");
        command.Subcommands.Add(Rekey(io));
        command.Subcommands.Add(RollKey(io));
        return command;
    }

    /// <summary>The options naming a store and the key-encryption key its instance key is sealed with.</summary>
    private sealed class StoreOptions
    {
        public Option<string?> Data { get; } = new("--data") { Description = "The data folder of the SQLite store (default ~/.veritee), and of a generated key-encryption key." };

        public Option<string> Kind { get; } = new("--store") { Description = "sqlite or postgres.", DefaultValueFactory = _ => "sqlite" };

        public Option<string?> Connection { get; } = new("--connection-string") { Description = "PostgreSQL connection string for --store postgres (default: $VERITEE_POSTGRES)." };

        public Option<FileInfo?> Kek { get; } = new("--key-encryption-key-file") { Description = "The key-encryption key the instance key is sealed with now (default: $VERITEE_KEK, else DATA/key-encryption-key)." };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { Data, Kind, Connection, Kek })
            {
                command.Options.Add(option);
            }
        }

        public ServiceOptions Read(ParseResult parse) => new()
        {
            InstanceUrl = "http://127.0.0.1",
            DataDirectory = parse.GetValue(Data) ?? ServeCommand.DefaultDataDirectory,
            PostgresConnectionString = ServeCommand.PostgresConnection(parse.GetValue(Kind)!, parse.GetValue(Connection)),
            KeyEncryptionKey = ServeCommand.LoadKek(parse.GetValue(Kek)),
        };
    }

    /// <summary>Default time the old key stays in /certs: the token lifetime, plus a margin for nodes that sign with it until their next key refresh.</summary>
    internal static readonly TimeSpan DefaultPublishOld = TokenWriter.AttestationLifetime + TimeSpan.FromMinutes(15);

    private static Command RollKey(CliIo io)
    {
        var store = new StoreOptions();
        var publishOld = new Option<double>("--publish-old-hours")
        {
            Description = "Hours the old key stays in /certs so that tokens it signed keep validating (default 8.25: the 8-hour token lifetime and a margin). 0 takes it out at once, for a key that may have leaked.",
            DefaultValueFactory = _ => DefaultPublishOld.TotalHours,
        };
        var command = new Command(
            "roll-key",
            "Replace the instance signing key with a new one, sealed under the same key-encryption key. Running nodes read the store and sign with the new key " +
            "within their key refresh interval (serve --key-refresh-interval, default 30 s), without a restart; /certs publishes the new key and, for --publish-old-hours, the old one " +
            "(0: the old key and every key rolled out before leave /certs at once; for a leaked key, also rekey). " +
            "Not for a mounted --instance-key file. Exit 0 rolled, 2 input error (no store, wrong key-encryption key, a concurrent roll or rekey).");
        store.AddTo(command);
        command.Options.Add(publishOld);
        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var hours = parse.GetValue(publishOld);
            if (!(hours >= 0 && hours <= 24 * 366))
            {
                throw new CliException($"--publish-old-hours: {hours.ToString(System.Globalization.CultureInfo.InvariantCulture)} is not between 0 and {24 * 366}");
            }

            RollKeyResult result;
            try
            {
                result = VeriteeServer.RollInstanceKeyAsync(store.Read(parse), TimeSpan.FromHours(hours), DateTimeOffset.UtcNow).GetAwaiter().GetResult();
            }
            catch (InvalidOperationException e)
            {
                throw new CliException(e.Message);
            }

            io.Out.WriteLine($"store roll-key: new tokens are signed with kid {result.NewKid}; running nodes switch at their next key refresh.");
            io.Out.WriteLine(result.OldPublishedUntil is { } until
                ? $"store roll-key: the old key (kid {result.OldKid}) stays in /certs until {until.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture)}."
                : $"store roll-key: the old key (kid {result.OldKid}) is out of /certs now, and so is every key rolled out before: tokens they signed fail validation once relying parties fetch /certs again. If the key leaked, rekey too (veritee store rekey) and destroy the old key-encryption key.");
            if (result.StillPublished.Count > 0)
            {
                io.Out.WriteLine($"store roll-key: keys rolled out before that stay in /certs for their own time: {string.Join(", ", result.StillPublished)}.");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Rekey(CliIo io)
    {
        var store = new StoreOptions();
        var newKek = new Option<FileInfo>("--new-key-encryption-key-file") { Description = "The new 32-byte key-encryption key (raw, hex or base64, mode 0600).", Required = true };
        var command = new Command(
            "rekey",
            "Re-seal the instance signing key under a new key-encryption key. The signing key (and /certs, and issued tokens) stay the same. " +
            "Restart every node with the new key afterwards; a generated DATA/key-encryption-key is kept as key-encryption-key.retired-TIME for older backups. " +
            "Exit 0 re-sealed, 2 input error (wrong old key, no store, equal keys).");
        store.AddTo(command);
        command.Options.Add(newKek);

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var options = store.Read(parse);
            var replacement = ServeCommand.LoadKek(parse.GetValue(newKek)!)!;
            RekeyResult result;
            try
            {
                result = VeriteeServer.RekeyAsync(options, replacement, DateTimeOffset.UtcNow).GetAwaiter().GetResult();
            }
            catch (InvalidOperationException e)
            {
                throw new CliException(e.Message);
            }

            io.Out.WriteLine($"store rekey: the instance key (kid {result.Kid}) is sealed under the new key-encryption key; restart every node with it (--key-encryption-key-file or $VERITEE_KEK).");
            if (result.RetiredKekFile is { } retired)
            {
                io.Out.WriteLine($"store rekey: the old generated key moved to {retired}; it opens only backups taken before now.");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }
}
