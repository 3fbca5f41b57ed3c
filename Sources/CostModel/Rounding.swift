import Foundation

/// How amounts whose parts must add up to a whole are rounded for export: each part is
/// rounded down, and the units still missing go, one each, to the parts that lost the most
/// (largest remainder; ties in the parts' order). The exported parts then sum to the exported
/// whole digit for digit, whatever the decimals of the inputs.
///
/// The whole is the parts' exact sum rounded half away from zero, unless the caller gives
/// one: the estate's month to date is the sum of its sources' bills, each rounded once, so
/// that a sum over shards equals one exporter's; its tenants and providers are then rounded to
/// that whole. A given whole below the parts' floors takes units back from the parts that
/// lost least. No part moves by more than a unit plus the whole's own distance from the
/// parts' exact sum.
public enum LargestRemainder {
    /// `parts` rounded to `scale` decimals so that they sum to `whole` rounded to `scale`.
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
        var count = NSDecimalNumber(decimal: ((target - floors.reduce(0, +)) / unit).rounded(scale: 0)).intValue
        var rounded = floors
        // Each remainder once: `Decimal` arithmetic inside the sort's comparisons was most of
        // the time of rounding a few hundred parts.
        let remainders = zip(parts, floors).map { $0 - $1 }
        let order = parts.indices.sorted { a, b in
            remainders[a] != remainders[b] ? remainders[a] > remainders[b] : a < b
        }
        // Past one unit a part, a whole far from its parts' sum goes round again.
        var position = 0
        while count > 0 {
            rounded[order[position % order.count]] += unit
            count -= 1
            position += 1
        }
        position = 0
        while count < 0 {
            rounded[order[order.count - 1 - position % order.count]] -= unit
            count += 1
            position += 1
        }
        return rounded
    }

    /// Groups of parts (name → currency → amount), every part of every group rounded together
    /// per currency to `totals` (else to their own sum): the tenants and the unallocated rest of
    /// one whole, say. Parts are taken in name order, so ties go the same way on every run.
    public static func round<Name: Comparable>(groups: [[Name: [Currency: Decimal]]], to totals: [Currency: Decimal],
                                        scale: Int = 2) -> [[Name: [Currency: Decimal]]] {
        var entries: [(group: Int, name: Name, currency: Currency, amount: Decimal)] = []
        for (group, parts) in groups.enumerated() {
            for (name, amounts) in parts.sorted(by: { $0.key < $1.key }) {
                for (currency, amount) in amounts.sorted(by: { $0.key < $1.key }) { entries.append((group, name, currency, amount)) }
            }
        }
        let values = round(entries.map { (currency: $0.currency, amount: $0.amount) }, scale: scale, wholes: totals)
        var result = [[Name: [Currency: Decimal]]](repeating: [:], count: groups.count)
        for (entry, value) in zip(entries, values) { result[entry.group][entry.name, default: [:]][entry.currency] = value }
        return result
    }
}

public extension LargestRemainder {
    /// Amounts of several currencies, each currency's parts rounded together to
    /// `wholes[currency]` (else to their own sum); in the parts' order. Currencies are never
    /// added.
    static func round(_ parts: [(currency: Currency, amount: Decimal)], scale: Int = 2, wholes: [Currency: Decimal]) -> [Decimal] {
        var rounded = [Decimal](repeating: 0, count: parts.count)
        for (currency, indices) in Dictionary(grouping: parts.indices, by: { parts[$0].currency }) {
            let values = round(indices.map { parts[$0].amount }, scale: scale, whole: wholes[currency])
            for (index, value) in zip(indices, values) { rounded[index] = value }
        }
        return rounded
    }
}
