import Foundation

/// Sums money by a key, keeping currencies apart: a key always includes the currency.
public func sum<Element, Key: Hashable>(_ elements: some Sequence<Element>, by key: (Element) -> Key,
                                        amount: (Element) -> Decimal) -> [Key: Decimal] {
    var totals: [Key: Decimal] = [:]
    for element in elements {
        totals[key(element), default: 0] += amount(element)
    }
    return totals
}
