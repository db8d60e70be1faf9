using System.CommandLine;

namespace Veritee.Cli;

/// <summary><c>veritee signer list|add|remove</c> against an endpoint: the isolated-mode policy-management certificates.</summary>
internal static class SignerAdminCommands
{
    /// <summary>Adds list, add and remove under <paramref name="signer"/>.</summary>
    public static void AddTo(Command signer, CliIo io)
    {
        signer.Subcommands.Add(CreateList(io));
        signer.Subcommands.Add(CreateModify(io, add: true));
        signer.Subcommands.Add(CreateModify(io, add: false));
    }

    private static Command CreateList(CliIo io)
    {
        var endpoint = new EndpointOptions(admin: true);
        var command = new Command("list", "List the policy-management certificates (GET /certificates); empty on AAD and shared instances. Exit 0 listed, 1 refused or invalid answer, 2 input, usage or connection error.");
        endpoint.AddTo(command);
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            using var admin = endpoint.CreateAdmin(parse);
            var certificates = (await admin.GetPolicyManagementCertificatesAsync(cancellationToken).ConfigureAwait(false)).Value;
            if (certificates.Count == 0)
            {
                io.Out.WriteLine("no policy-management certificates (not an isolated instance, or none registered)");
            }

            foreach (var certificate in certificates)
            {
                io.Out.WriteLine($"{certificate.Thumbprint}  {certificate.Subject}");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command CreateModify(CliIo io, bool add)
    {
        var target = new Argument<FileInfo>("CERT") { Description = "The certificate to " + (add ? "add" : "remove") + " (PEM or DER)." };
        var endpoint = new EndpointOptions(admin: true);
        var signing = new OptionalSigner();
        var name = add ? "add" : "remove";
        var command = new Command(
            name,
            $"{(add ? "Add" : "Remove")} a policy-management certificate (POST /certificates:{name}), with a JWS signed by a current signer (--key/--cert). " +
            "Only isolated instances accept it. Exit 0 done, 1 refused or invalid answer, 2 input, usage or connection error.");
        command.Arguments.Add(target);
        endpoint.AddTo(command);
        signing.AddTo(command);
        signing.Key.Required = true;
        signing.Cert.Required = true;
        command.SetAction(EndpointOptions.Guard(async (parse, cancellationToken) =>
        {
            using var certificate = EndpointOptions.LoadCertificate(parse.GetValue(target)!);
            using var key = signing.Load(parse)!;
            using var admin = endpoint.CreateAdmin(parse);
            var result = add
                ? (await admin.AddPolicyManagementCertificateAsync(certificate, key, cancellationToken).ConfigureAwait(false)).Value
                : (await admin.RemovePolicyManagementCertificateAsync(certificate, key, cancellationToken).ConfigureAwait(false)).Value;
            io.Out.WriteLine($"{result.Thumbprint}  {certificate.Subject}: {result.Resolution}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
