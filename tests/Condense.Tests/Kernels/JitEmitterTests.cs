// The x86-64 emitter of the JIT int8 kernels (Int8Gemm/Jit) against GNU as: each expected byte string below is
// the output of `as --64` (binutils, Intel syntax) for the instruction in the comment beside it, chosen to cover
// the EVEX fields (zmm 0–7, 8–15, 16–31 in every operand slot: R, R′, B, X, vvvv, V′), the disp8·N compression
// and its disp32 fallback, the rsp/r12 SIB and rbp/r13 mod-01 special cases, REX.W/R/B, and both jump lengths.
// The emitted kernels themselves are checked through QGemm against QGemmReference (QGemmTests, Int8Dot.JitZmmQuads) and
// through QConv2d against QConv2dReference (QConv2dChannelsLastTests, QConv2dDirectTests).
using Condense.Kernels.Int8Gemm.Jit;
using Condense.Kernels.Platform;

namespace Condense.Tests.Kernels;

public class JitEmitterTests
{
    private static void Check(string expectedHex, Action<X64Emitter> emit)
    {
        var e = new X64Emitter();
        emit(e);
        Assert.Equal(expectedHex, Convert.ToHexString(e.ToArray()).ToLowerInvariant());
    }

    [Fact]
    public void ZmmRegisterFormsMatchTheAssembler()
    {
        Check("62513d48efc0", e => e.ZeroZmm(8));                // vpxord zmm8, zmm8, zmm8
        Check("62010540efff", e => e.ZeroZmm(31));               // vpxord zmm31, zmm31, zmm31
        Check("62a17540efc9", e => e.ZeroZmm(17));               // vpxord zmm17, zmm17, zmm17
        Check("62726d4850c0", e => e.Vpdpbusd(8, 2, 0));         // vpdpbusd zmm8, zmm2, zmm0
        Check("6262654850f9", e => e.Vpdpbusd(31, 3, 1));        // vpdpbusd zmm31, zmm3, zmm1
        Check("62c26d4050c9", e => e.Vpdpbusd(17, 18, 9));       // vpdpbusd zmm17, zmm18, zmm9
    }

    [Fact]
    public void ZmmMemoryFormsMatchTheAssembler()
    {
        Check("62f27d485817", e => e.BroadcastDword(2, Gpr.Rdi, 0));               // vpbroadcastd zmm2, [rdi]
        Check("62f27d48585f0b", e => e.BroadcastDword(3, Gpr.Rdi, 44));            // vpbroadcastd zmm3, [rdi+44]
        Check("62f27d48589700040000", e => e.BroadcastDword(2, Gpr.Rdi, 1024));    // vpbroadcastd zmm2, [rdi+1024]
        Check("62d27d48585a01", e => e.BroadcastDword(3, Gpr.R10, 4));             // vpbroadcastd zmm3, [r10+4]
        Check("62f17e486f06", e => e.LoadZmm(0, Gpr.Rsi, 0));                      // vmovdqu32 zmm0, [rsi]
        Check("62d17e486f0a", e => e.LoadZmm(1, Gpr.R10, 0));                      // vmovdqu32 zmm1, [r10]
        Check("62d17e486f4a01", e => e.LoadZmm(1, Gpr.R10, 64));                   // vmovdqu32 zmm1, [r10+64]
        Check("62f17e486f8e24000000", e => e.LoadZmm(1, Gpr.Rsi, 36));             // vmovdqu32 zmm1, [rsi+36]
        Check("62517e487f00", e => e.StoreZmm(Gpr.R8, 0, 8));                      // vmovdqu32 [r8], zmm8
        Check("62417e487f7801", e => e.StoreZmm(Gpr.R8, 64, 31));                  // vmovdqu32 [r8+64], zmm31
        Check("62e17e487f642402", e => e.StoreZmm(Gpr.Rsp, 128, 20));              // vmovdqu32 [rsp+128], zmm20
        Check("62f17e487f6d00", e => e.StoreZmm(Gpr.Rbp, 0, 5));                   // vmovdqu32 [rbp], zmm5
        Check("62d17e487f6d00", e => e.StoreZmm(Gpr.R13, 0, 5));                   // vmovdqu32 [r13], zmm5
        Check("62713d48fe01", e => e.AddDwordsFromMemory(8, 8, Gpr.Rcx, 0));       // vpaddd zmm8, zmm8, [rcx]
        Check("62610540fe7901", e => e.AddDwordsFromMemory(31, 31, Gpr.Rcx, 64));  // vpaddd zmm31, zmm31, [rcx+64]
        Check("62c15d40fea42400200000", e => e.AddDwordsFromMemory(20, 20, Gpr.R12, 8192)); // vpaddd zmm20, zmm20, [r12+8192]
    }

    [Fact]
    public void IndexedBroadcastsMatchTheAssembler()
    {
        Check("62b27d48582400", e => e.BroadcastDword(4, Gpr.Rax, Gpr.R8, 0));             // vpbroadcastd zmm4, [rax+r8]
        Check("62927d48583c07", e => e.BroadcastDword(7, Gpr.R15, Gpr.R8, 0));             // vpbroadcastd zmm7, [r15+r8]
        Check("62927d48586c0500", e => e.BroadcastDword(5, Gpr.R13, Gpr.R8, 0));           // vpbroadcastd zmm5, [r13+r8+0]
        Check("62b27d4858742302", e => e.BroadcastDword(6, Gpr.Rbx, Gpr.R12, 8));          // vpbroadcastd zmm6, [rbx+r12+8]
        Check("62c27d4858a40a00040000", e => e.BroadcastDword(20, Gpr.R10, Gpr.Rcx, 1024)); // vpbroadcastd zmm20, [r10+rcx+1024]
        Check("534156415f5b", e => { e.Push(Gpr.Rbx); e.Push(Gpr.R14); e.Pop(Gpr.R15); e.Pop(Gpr.Rbx); }); // push rbx; push r14; pop r15; pop rbx
    }

    [Fact]
    public void GeneralPurposeFormsMatchTheAssembler()
    {
        Check("488b442408", e => e.LoadQword(Gpr.Rax, Gpr.Rsp, 8));          // mov rax, [rsp+8]
        Check("4d8b9c242c010000", e => e.LoadQword(Gpr.R11, Gpr.R12, 300));  // mov r11, [r12+300]
        Check("4989f2", e => e.Move(Gpr.R10, Gpr.Rsi));                      // mov r10, rsi
        Check("4c89cf", e => e.Move(Gpr.Rdi, Gpr.R9));                       // mov rdi, r9
        Check("4901d2", e => e.Add(Gpr.R10, Gpr.Rdx));                       // add r10, rdx
        Check("4d01c8", e => e.Add(Gpr.R8, Gpr.R9));                         // add r8, r9
        Check("4883c730", e => e.Add(Gpr.Rdi, 48));                          // add rdi, 48
        Check("4883c640", e => e.Add(Gpr.Rsi, 64));                          // add rsi, 64
        Check("4981c2c8000000", e => e.Add(Gpr.R10, 200));                   // add r10, 200
        Check("4883c0ff", e => e.Add(Gpr.Rax, -1));                          // add rax, -1
        Check("48ffc8", e => e.Decrement(Gpr.Rax));                          // dec rax
        Check("49ffcb", e => e.Decrement(Gpr.R11));                          // dec r11
        Check("c5f877c3", e => { e.ZeroUpper(); e.Return(); });              // vzeroupper; ret
    }

    [Fact]
    public void BackwardJumpsMatchTheAssembler()
    {
        // top: dec rax; jnz top  →  48 ff c8 75 fb
        Check("48ffc875fb", e => { int top = e.Position; e.Decrement(Gpr.Rax); e.JumpIfNotZero(top); });
        // top: dec rax; jnz top; 200 × nop; jnz top  →  the second as rel32: 0f 85 2d ff ff ff
        var far = new X64Emitter();
        far.Decrement(Gpr.Rax);
        far.JumpIfNotZero(0);
        for (int i = 0; i < 200; i++) far.Return();   // any 200 one-byte instructions
        far.JumpIfNotZero(0);
        Assert.Equal("0f852dffffff", Convert.ToHexString(far.ToArray()[^6..]).ToLowerInvariant());
    }

    [Fact]
    public void JitDotIsSupportedExactlyWhereAvx512VnniAndTheKernelsExist()
    {
        bool vnni = System.Runtime.Intrinsics.X86.X86Base.IsSupported
            && (System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0).Ecx & 1 << 11) != 0;
        Assert.Equal(vnni && Cpu.Supports(KernelPath.Avx512) && JitQuadKernels.Available, Cpu.Supports(Int8Dot.JitZmmQuads));
        if (OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture
            == System.Runtime.InteropServices.Architecture.X64) Assert.True(JitQuadKernels.Available);
    }
}
