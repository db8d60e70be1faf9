namespace Veritee.Cli.Tests;

/// <summary>Runs <c>veritee</c> in process with captured output, as the CLI tests do.</summary>
internal static class CliRun
{
    /// <summary>The exit code, standard output and standard error of one command.</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = VeriteeCommand.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// <see cref="Run"/> for a <c>serve</c> that must refuse to start: one that serves instead fails the test after
    /// 60 s rather than hanging it.
    /// </summary>
    public static (int Exit, string Out, string Err) RunRefusedServe(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var run = Task.Run(() => VeriteeCommand.Run(args, stdout, stderr));
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "serve started instead of refusing: " + stdout + stderr);
        return (run.Result, stdout.ToString(), stderr.ToString());
    }
}
