import fc from 'fast-check';

// A property test that names a maxLength means it: under fast-check 4 an array with no `size` stays at the small base
// size whatever its maxLength (4.7 elements on average with maxLength 300, measured 2026-12-03), so properties over
// sequences of operations were tried on a handful of steps.
fc.configureGlobal({ defaultSizeToMaxWhenMaxSpecified: true });
