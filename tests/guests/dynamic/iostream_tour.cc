// libstdc++ through the loader: iostream (its static initializers run before main),
// std::string (allocation through operator new), and an exception thrown and caught
// (the unwinder reads .eh_frame_hdr of the program and of libstdc++ via dl_iterate_phdr).
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

static int checked_div(int a, int b)
{
    if (b == 0)
        throw std::runtime_error("division by zero");
    return a / b;
}

int main()
{
    std::string who = "world";
    std::string line = "hello, " + who + "!";
    std::cout << line << " (" << line.size() << " characters)" << std::endl;

    std::vector<int> squares;
    for (int i = 1; i <= 5; i++)
        squares.push_back(i * i);
    std::cout << "squares:";
    for (int s : squares)
        std::cout << ' ' << s;
    std::cout << '\n';

    try {
        std::cout << "10 / 2 = " << checked_div(10, 2) << '\n';
        std::cout << "10 / 0 = " << checked_div(10, 0) << '\n';
    } catch (const std::exception &e) {
        std::cout << "caught: " << e.what() << '\n';
    }
    return 5;
}
