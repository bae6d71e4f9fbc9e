// Element addressing of f32 matrices (--precision f32): weight d of row r of a part is word
// r * DIM + d of the part's binding.

fn element(r: u32, d: u32) -> vec2<u32> {
    return vec2<u32>(r * DIM + d, 0u);
}
