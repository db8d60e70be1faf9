namespace Veritee.Cli;

internal static class Program
{
    public static int Main(string[] args) => VeriteeCommand.Run(args, Console.Out, Console.Error);
}
