//! The n-body kernel: the Sun and the four gas giants under Newtonian
//! gravity, advanced with the semi-implicit (symplectic) Euler steps of the
//! Computer Language Benchmarks Game's `nbody`. The only float code of the
//! crate, and float-heavy on purpose: per step ten pairwise interactions of
//! about forty `f64` operations each.
//!
//! `core` has no square root (`f64::sqrt` needs `std`, and the Wasm
//! intrinsic is unstable), so distances go through [`rsqrt`], the way a
//! `no_std` contract would compute them: a bit-level first guess refined by
//! Newton's method, plain arithmetic that every engine runs alike.

const PI: f64 = core::f64::consts::PI;
const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;
/// The time step, in years.
const DT: f64 = 0.01;

#[derive(Clone, Copy)]
struct Body {
    x: [f64; 3],
    v: [f64; 3],
    mass: f64,
}

const fn body(x: [f64; 3], v: [f64; 3], mass: f64) -> Body {
    Body {
        x,
        v: [
            v[0] * DAYS_PER_YEAR,
            v[1] * DAYS_PER_YEAR,
            v[2] * DAYS_PER_YEAR,
        ],
        mass: mass * SOLAR_MASS,
    }
}

/// The initial state (positions in AU, velocities in AU per day before
/// scaling, masses in solar masses), as in the Benchmarks Game.
const BODIES: [Body; 5] = [
    body([0.0; 3], [0.0; 3], 1.0),
    body(
        [
            4.841_431_421_403_23,
            -1.160_320_044_027_428_4,
            -1.036_220_444_711_231_1e-1,
        ],
        [
            1.660_076_642_744_037e-3,
            7.699_011_184_197_404e-3,
            -6.904_600_169_720_63e-5,
        ],
        9.547_919_384_243_266e-4,
    ),
    body(
        [
            8.343_366_718_244_58,
            4.124_798_564_124_305,
            -4.035_234_171_143_214e-1,
        ],
        [
            -2.767_425_107_268_624e-3,
            4.998_528_012_349_172e-3,
            2.304_172_975_737_639_3e-5,
        ],
        2.858_859_806_661_308e-4,
    ),
    body(
        [
            1.289_436_956_213_913_1e1,
            -1.511_115_140_169_863_1e1,
            -2.233_075_788_926_557_3e-1,
        ],
        [
            2.964_601_375_647_616e-3,
            2.378_471_739_594_809_5e-3,
            -2.965_895_685_402_375_6e-5,
        ],
        4.366_244_043_351_563e-5,
    ),
    body(
        [
            1.537_969_711_485_091_1e1,
            -2.591_931_460_998_796_4e1,
            1.792_587_729_503_711_8e-1,
        ],
        [
            2.680_677_724_903_893_2e-3,
            1.628_241_700_382_423e-3,
            -9.515_922_545_197_159e-5,
        ],
        5.151_389_020_466_114_5e-5,
    ),
];

/// Gives the Sun the momentum that makes the system's total zero.
fn offset_momentum(bodies: &mut [Body; 5]) {
    let mut p = [0.0; 3];
    for b in bodies.iter() {
        for (pk, vk) in p.iter_mut().zip(b.v) {
            *pk += vk * b.mass;
        }
    }
    for (vk, pk) in bodies[0].v.iter_mut().zip(p) {
        *vk = -pk / SOLAR_MASS;
    }
}

/// `1 / sqrt(x)` for a positive, finite `x`, to within a few units in the
/// last place: the classic bit-level estimate (relative error under 4%),
/// then four Newton steps, each of which about squares the error.
fn rsqrt(x: f64) -> f64 {
    let mut y = f64::from_bits(0x5fe6_eb50_c7b5_37a9 - (x.to_bits() >> 1));
    let half = 0.5 * x;
    for _ in 0..4 {
        y *= 1.5 - half * y * y;
    }
    y
}

/// Kinetic plus potential energy.
fn energy(bodies: &[Body; 5]) -> f64 {
    let mut e = 0.0;
    for (i, a) in bodies.iter().enumerate() {
        e += 0.5 * a.mass * (a.v[0] * a.v[0] + a.v[1] * a.v[1] + a.v[2] * a.v[2]);
        for b in &bodies[i + 1..] {
            let d = [a.x[0] - b.x[0], a.x[1] - b.x[1], a.x[2] - b.x[2]];
            e -= a.mass * b.mass * rsqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        }
    }
    e
}

/// One step: velocities from every pairwise attraction, then positions.
fn advance(bodies: &mut [Body; 5]) {
    for i in 0..bodies.len() {
        let (head, tail) = bodies.split_at_mut(i + 1);
        let a = &mut head[i];
        for b in tail {
            let d = [a.x[0] - b.x[0], a.x[1] - b.x[1], a.x[2] - b.x[2]];
            let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let r = rsqrt(d2);
            let mag = DT * r * r * r;
            let (am, bm) = (a.mass * mag, b.mass * mag);
            for ((dk, avk), bvk) in d.into_iter().zip(&mut a.v).zip(&mut b.v) {
                *avk -= dk * bm;
                *bvk += dk * am;
            }
        }
    }
    for b in bodies.iter_mut() {
        for k in 0..3 {
            b.x[k] += DT * b.v[k];
        }
    }
}

/// Runs `steps` steps from the initial state; returns the checksum
/// (FNV-1a) of the bits of the energy before and after, then of every
/// body's position and velocity.
pub fn run(steps: u32) -> u64 {
    let mut bodies = BODIES;
    offset_momentum(&mut bodies);
    let mut acc = super::mix(super::FNV_OFFSET, energy(&bodies).to_bits());
    for _ in 0..steps {
        advance(&mut bodies);
    }
    acc = super::mix(acc, energy(&bodies).to_bits());
    for b in &bodies {
        for k in 0..3 {
            acc = super::mix(acc, b.x[k].to_bits());
            acc = super::mix(acc, b.v[k].to_bits());
        }
    }
    acc
}
