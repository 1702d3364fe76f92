// The zmm vpdpbusd micro-kernels of the channels-last int8 convolution (QConv2dNhwc), emitted once per process with the
// X64Emitter of the int8 GEMM (Int8Gemm/Jit; see there for why machine code: .NET 10 has no AVX-512 VNNI intrinsics).
// The scheme is MLAS's symmetric convolution (convsym.cpp: an indirection list of input pixel pointers, 6 outputs × 64
// channels per kernel); the code is ours. One call computes `rows` (1–6) output pixels × `panels` (1–4) × 16 output
// channels, accumulators zmm8.. (one per pixel and panel), lanes = output channels:
//   for each tap t: the row pointers p_i = pointers[t·rows + i] (an input pixel's channels, NHWC, or a row of z_x where
//   the tap leaves the image); for each quad q of the tap's channels: the panels' weights W[t, q] (16 channels × 4
//   inputs per zmm) are loaded once, the 4 input bytes of each pixel broadcast (vpbroadcastd [p_i + 4q]), and one
//   vpdpbusd per pixel and panel adds 4 multiply-adds per lane: 6 × 4 = 24 vpdpbusd (1,536 multiply-adds) per 4 loads
//   and 6 broadcasts. Then c[i, j] = acc + bias[j] as int32 rows of ldc bytes.
// The quad index runs from −4·quads up to 0 (add sets ZF at 0), so the loop needs no compare; the row pointers are
// advanced by 4·quads once per tap to match. System V AMD64: one argument, the Args block (rdi); rbx, r14 and r15 are
// callee-saved, so they are pushed.
using System.Runtime.InteropServices;
using Condense.Kernels.Int8Gemm.Jit;

namespace Condense.Kernels.Int8Conv;

/// <summary>The emitted channels-last convolution kernels; <see cref="Available"/> is false where they could not be made.</summary>
internal static unsafe class QConvKernelJitZmm
{
    /// <summary>Most output pixels per call.</summary>
    public const int MaxRows = 6;

    /// <summary>Most 16-channel panels per call (64 output channels).</summary>
    public const int MaxPanels = 4;

    /// <summary>The arguments of one call (read by the kernel at these offsets).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Args
    {
        /// <summary>taps × rows input pointers, tap-major.</summary>
        public byte** Pointers;
        /// <summary>The packed weights of the channel block: [tap][quad][panel][16 channels][4 inputs].</summary>
        public sbyte* Weights;
        /// <summary>Taps (≥ 1).</summary>
        public nint Taps;
        /// <summary>4 × quads per tap (≥ 4).</summary>
        public nint QuadBytes;
        /// <summary>−<see cref="QuadBytes"/>.</summary>
        public nint NegativeQuadBytes;
        /// <summary>panels × 16 int32 added to every pixel.</summary>
        public int* Bias;
        /// <summary>rows × panels·16 int32 out, rows <see cref="Ldc"/> bytes apart.</summary>
        public int* Output;
        /// <summary>Bytes between output rows.</summary>
        public nint Ldc;
    }

    private static readonly delegate* unmanaged[SuppressGCTransition]<Args*, void>[] s_kernels =
        new delegate* unmanaged[SuppressGCTransition]<Args*, void>[MaxRows * MaxPanels];

    static QConvKernelJitZmm()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        try
        {
            var emitter = new X64Emitter();
            var entries = new int[MaxRows * MaxPanels];
            for (int rows = 1; rows <= MaxRows; rows++)
                for (int panels = 1; panels <= MaxPanels; panels++) entries[Index(rows, panels)] = Emit(emitter, rows, panels);
            byte* code = ExecutableMemory.Publish(emitter.ToArray());
            if (code == null) return;
            for (int i = 0; i < entries.Length; i++) s_kernels[i] = (delegate* unmanaged[SuppressGCTransition]<Args*, void>)(code + entries[i]);
            Available = true;
        }
        catch (Exception) { }   // whatever failed, QConv2d runs its managed kernels instead
    }

    /// <summary>True when the kernels exist (Linux x86-64, pages made executable); the CPU is not checked here.</summary>
    public static bool Available { get; }

    /// <summary>Runs the kernel of <paramref name="rows"/> pixels × <paramref name="panels"/> panels on <paramref name="args"/>.</summary>
    public static void Run(int rows, int panels, Args* args) => s_kernels[Index(rows, panels)](args);

    private static int Index(int rows, int panels) => (rows - 1) * MaxPanels + panels - 1;

    // Row pointer registers (rbx, r14, r15 callee-saved); rdi args, rsi pointers, rdx weights, rcx taps, r9 quad bytes, r8 index.
    private static readonly Gpr[] RowRegisters = [Gpr.Rax, Gpr.R10, Gpr.R11, Gpr.Rbx, Gpr.R14, Gpr.R15];

    /// <summary>Appends one kernel; returns its entry offset.</summary>
    internal static int Emit(X64Emitter e, int rows, int panels)
    {
        Gpr args = Gpr.Rdi, pointers = Gpr.Rsi, weights = Gpr.Rdx, taps = Gpr.Rcx, quadBytes = Gpr.R9, index = Gpr.R8;
        const int FirstWeight = 0, FirstInput = 4, FirstAccumulator = 8;
        int entry = e.Position;
        var saved = rows > 3 ? RowRegisters[3..rows] : [];
        foreach (var r in saved) e.Push(r);
        e.LoadQword(pointers, args, 0);
        e.LoadQword(weights, args, 8);
        e.LoadQword(taps, args, 16);
        e.LoadQword(quadBytes, args, 24);
        for (int a = 0; a < rows * panels; a++) e.ZeroZmm(FirstAccumulator + a);

        int tap = e.Position;
        for (int i = 0; i < rows; i++)
        {
            e.LoadQword(RowRegisters[i], pointers, 8 * i);
            e.Add(RowRegisters[i], quadBytes);
        }
        e.Add(pointers, 8 * rows);
        e.LoadQword(index, args, 32);

        int quad = e.Position;
        for (int p = 0; p < panels; p++) e.LoadZmm(FirstWeight + p, weights, 64 * p);
        for (int i = 0; i < rows; i++)
        {
            int x = FirstInput + i % 4;
            e.BroadcastDword(x, RowRegisters[i], index, 0);
            for (int p = 0; p < panels; p++) e.Vpdpbusd(FirstAccumulator + i * panels + p, x, FirstWeight + p);
        }
        e.Add(weights, 64 * panels);
        e.Add(index, 4);
        e.JumpIfNotZero(quad);
        e.Decrement(taps);
        e.JumpIfNotZero(tap);

        Gpr bias = Gpr.Rsi, output = Gpr.Rdx, ldc = Gpr.Rcx;
        e.LoadQword(bias, args, 40);
        e.LoadQword(output, args, 48);
        e.LoadQword(ldc, args, 56);
        for (int i = 0; i < rows; i++)
        {
            for (int p = 0; p < panels; p++)
            {
                int acc = FirstAccumulator + i * panels + p;
                e.AddDwordsFromMemory(acc, acc, bias, 64 * p);
                e.StoreZmm(output, 64 * p, acc);
            }
            if (i + 1 < rows) e.Add(output, ldc);
        }
        for (int r = saved.Length - 1; r >= 0; r--) e.Pop(saved[r]);
        e.ZeroUpper();
        e.Return();
        return entry;
    }
}
