import CostModel
import Foundation
import Testing

@Suite("Rounding parts of a whole")
struct RoundingTests {
    func d(_ text: String) -> Decimal { Decimal(string: text)! }

    @Test("three thirds of 100 round to 33.34 + 33.33 + 33.33: the first of the equal remainders takes the spare cent")
    func thirds() {
        let third = Decimal(100) / 3
        #expect(LargestRemainder.round([third, third, third]) == [d("33.34"), d("33.33"), d("33.33")])
    }

    @Test("parts with 4–10 decimals: each rounded alone they sum to 0.02 while their whole is 0.03")
    func independentRoundingFails() {
        let parts = [d("0.0149"), d("0.0149"), d("0.0002")]
        // Alone: 0.01 + 0.01 + 0.00 = 0.02; the whole 0.03 rounds to 0.03.
        #expect(parts.map { $0.rounded(scale: 2) }.reduce(0, +) == d("0.02"))
        // Remainders 0.0049, 0.0049, 0.0002: the cent goes to the first of the largest.
        #expect(LargestRemainder.round(parts) == [d("0.02"), d("0.01"), d("0.00")])
    }

    @Test("credits: negative parts floor toward minus infinity and still sum to the whole")
    func negatives() {
        let parts = [d("-0.015"), d("-0.015"), d("10.004")]
        // Whole 9.974 → 9.97. Floors −0.02, −0.02, 10.00 = 9.96; remainders 0.005, 0.005, 0.004.
        #expect(LargestRemainder.round(parts) == [d("-0.01"), d("-0.02"), d("10.00")])
    }

    @Test("a given whole: the parts meet it, here 0.005 + 0.005 against a whole of 0.01")
    func givenWhole() {
        #expect(LargestRemainder.round([d("0.005"), d("0.005")], whole: d("0.01")) == [d("0.01"), d("0.00")])
    }
}
