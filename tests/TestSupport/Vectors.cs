namespace Veritee.TestSupport;

/// <summary>Locates the repository's own copies of the test vectors (tests never read ../shared).</summary>
public static class Vectors
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The repository root (the folder holding Directory.Build.props and tests/vectors).</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>tests/vectors.</summary>
    public static string Directory => Path.Combine(RepositoryRoot, "tests", "vectors");

    /// <summary>tests/vectors/dcap/cases.</summary>
    public static string DcapCases => Path.Combine(Directory, "dcap", "cases");

    /// <summary>tests/vectors/dcap/trust.</summary>
    public static string DcapTrust => Path.Combine(Directory, "dcap", "trust");

    /// <summary>The folder of one DCAP vector case.</summary>
    public static string DcapCase(string id) => Path.Combine(DcapCases, id);

    /// <summary>Every DCAP case id, sorted.</summary>
    public static IReadOnlyList<string> DcapCaseIds() =>
        System.IO.Directory.GetDirectories(DcapCases).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")) &&
                System.IO.Directory.Exists(Path.Combine(dir.FullName, "tests", "vectors")))
            {
                return dir.FullName;
            }

            dir = dir.Parent;
        }

        throw new InvalidOperationException("repository root with tests/vectors not found above " + AppContext.BaseDirectory);
    }
}
