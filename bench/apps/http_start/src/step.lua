-- A trivial activity (bench:step1..step3 all load this file): add one.
return function(x)
  return x + 1
end
