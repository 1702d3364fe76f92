// The command line's part in a run started by mpirun: join the other ranks before the command runs, silence every rank
// but 0 (it prints; the others only compute), route an error on another rank to rank 0, which prints it as one line
// and ends the run, and end the run's communication after the command.
using System.Runtime.InteropServices;
using Condense.Distributed;
using Spectre.Console;

namespace Condense.Cli;

internal static class Ranks
{
    private static PosixSignalRegistration? _terminate;

    /// <summary>True in a run of several ranks: output is plain text (no colours, no live progress).</summary>
    public static bool Plain => World.Current.IsDistributed;

    /// <summary>A console over <paramref name="writer"/>: plain in a run of several ranks, else as the terminal allows.</summary>
    public static IAnsiConsole Create(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = Plain ? AnsiSupport.No : AnsiSupport.Detect,
        ColorSystem = Plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        Interactive = Plain ? InteractionSupport.No : InteractionSupport.Detect,
    });

    /// <summary>Joins the MPI run if mpirun started this process with others; returns an exit code when that failed.</summary>
    public static int? Start()
    {
        Communicator world;
        try { world = World.Start(); }
        catch (CondenseException e) { return CliErrors.Report(e); }
        if (!world.IsDistributed) return null;
        // .NET would read the terminal's capabilities and send its keypad mode to mpirun's pseudo-terminal (below).
        Environment.SetEnvironmentVariable("TERM", "dumb");
        if (!world.IsRoot)
        {
            Console.SetOut(TextWriter.Null);
            Console.SetError(TextWriter.Null);
        }
        else
        {
            // mpirun hands each rank a pseudo-terminal of its own, whatever the user's output is (a file, a pipe): write
            // plain streams, so .NET sends no terminal modes and Spectre no colours into redirected output or JSON.
            Console.SetOut(new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true });
            Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
        }
        AnsiConsole.Console = Create(Console.Out);
        // mpirun ends the other ranks with SIGTERM when one dies without a word (killed, crashed) or calls MPI_Abort: no
        // finally runs after it, so the scratch folders go first.
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            if (world.IsRoot) Console.Error.WriteLine("error: another rank of this run ended without a message (mpirun names it); nothing written");
            ProcessRole.RemoveScratch();
            context.Cancel = false;
        });
        return null;
    }

    /// <summary>Reports a failure: another rank's goes to rank 0 and waits there to be ended; rank 0's is printed, then the run ends.</summary>
    public static int Fail(Exception exception, Func<Exception, int> print)
    {
        var world = World.Current;
        if (!world.IsDistributed) return print(exception);
        if (!world.IsRoot) world.ReportFailure(CliErrors.Message(exception));
        int code = print(exception);
        world.Abort(code);
        return code;
    }

    /// <summary>Ends the run's communication after the command returned <paramref name="code"/>.</summary>
    public static int Finish(int code)
    {
        var world = World.Current;
        if (!world.IsDistributed) return code;
        try { world.Finish(); }
        catch (CondenseException e) { return Fail(e, CliErrors.Print); }
        _terminate?.Dispose();
        return code;
    }
}
