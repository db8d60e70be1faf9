using System.CommandLine;
using Veritee.Service;

namespace Veritee.Cli;

/// <summary><c>veritee store rekey</c>: maintenance of the service's store while the nodes are stopped or rolling.</summary>
internal static class StoreCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Command("store", "Maintain the store 'veritee serve' keeps (SQLite in --data, or PostgreSQL).");
        command.Subcommands.Add(Rekey(io));
        return command;
    }

    private static Command Rekey(CliIo io)
    {
        var data = new Option<string?>("--data") { Description = "The data folder of the SQLite store (default ~/.veritee), and of a generated key-encryption key." };
        var storeKind = new Option<string>("--store") { Description = "sqlite or postgres.", DefaultValueFactory = _ => "sqlite" };
        var connection = new Option<string?>("--connection-string") { Description = "PostgreSQL connection string for --store postgres (default: $VERITEE_POSTGRES)." };
        var oldKek = new Option<FileInfo?>("--key-encryption-key-file") { Description = "The key-encryption key the instance key is sealed with now (default: $VERITEE_KEK, else DATA/key-encryption-key)." };
        var newKek = new Option<FileInfo>("--new-key-encryption-key-file") { Description = "The new 32-byte key-encryption key (raw, hex or base64, mode 0600).", Required = true };
        var command = new Command(
            "rekey",
            "Re-seal the instance signing key under a new key-encryption key. The signing key (and /certs, and issued tokens) stay the same. " +
            "Restart every node with the new key afterwards; a generated DATA/key-encryption-key is kept as key-encryption-key.retired-TIME for older backups. " +
            "Exit 0 re-sealed, 2 input error (wrong old key, no store, equal keys).");
        foreach (var option in new Option[] { data, storeKind, connection, oldKek, newKek })
        {
            command.Options.Add(option);
        }

        command.SetAction(VeriteeCommand.Guard(parse =>
        {
            var options = new ServiceOptions
            {
                InstanceUrl = "http://127.0.0.1",
                DataDirectory = parse.GetValue(data) ?? ServeCommand.DefaultDataDirectory,
                PostgresConnectionString = ServeCommand.PostgresConnection(parse.GetValue(storeKind)!, parse.GetValue(connection)),
                KeyEncryptionKey = ServeCommand.LoadKek(parse.GetValue(oldKek)),
            };
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
