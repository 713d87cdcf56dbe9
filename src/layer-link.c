/*
 * layer-link.c - the program that src/meson.build links once per layer with
 * that layer's objects whole and only the layers below it: it runs nothing,
 * its link is the check (an upward call leaves a symbol undefined).
 */
int main(void)
{
	return 0;
}
