import Foundation

/// How amounts whose parts must add up to a whole are rounded for export: the whole is
/// rounded half away from zero to `scale` decimals; each part is rounded down, and the units
/// still missing go, one each, to the parts that lost the most (largest remainder; ties in
/// the parts' order). The exported parts then sum to the exported whole digit for digit,
/// whatever the decimals of the inputs, and no part moves by a unit or more.
///
/// Used for `infrastructure_cost_monthly` against `tenant_cost_monthly` plus
/// `unallocated_cost_monthly` (both sides sum to the same rounded whole per currency), and
/// for each breakdown of `cost_daily` against its `total` scope.
public enum LargestRemainder {
    /// `parts` rounded to `scale` decimals so that they sum to `whole` rounded to `scale`.
    /// `whole` defaults to the exact sum of the parts.
    public static func round(_ parts: [Decimal], scale: Int = 2, whole: Decimal? = nil) -> [Decimal] {
        guard !parts.isEmpty else { return [] }
        let target = (whole ?? parts.reduce(0, +)).rounded(scale: scale, mode: .plain)
        var unit = Decimal(1)
        for _ in 0..<scale { unit /= 10 }
        // Toward negative infinity, whichever way Foundation's `.down` takes negatives.
        let floors = parts.map { part in
            let down = part.rounded(scale: scale, mode: .down)
            return down > part ? down - unit : down
        }
        let missing = target - floors.reduce(0, +)
        // The units missing are whole at this scale; a whole far from its parts' sum is the
        // caller's error, and the parts are then only rounded.
        var count = NSDecimalNumber(decimal: (missing / unit).rounded(scale: 0)).intValue
        guard count >= 0, count <= parts.count else { return parts.map { $0.rounded(scale: scale, mode: .plain) } }
        var rounded = floors
        let order = parts.indices.sorted { a, b in
            let ra = parts[a] - floors[a], rb = parts[b] - floors[b]
            return ra != rb ? ra > rb : a < b
        }
        for index in order where count > 0 {
            rounded[index] += unit
            count -= 1
        }
        return rounded
    }
}
